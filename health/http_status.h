#pragma once
// The parts of an HTTP/1.x response a health check needs: the status code
// and whether the body contains a string. Pure.

#include <optional>
#include <string_view>

namespace sb::health {

struct HttpStatusLine {
  int code = 0;
  std::string_view line;  // "HTTP/1.1 503 Service Unavailable"
};

// The status line at the start of `response`; nullopt when it is not one
// ("HTTP/1.x ddd ...") or not complete yet.
std::optional<HttpStatusLine> parse_status_line(std::string_view response);

// The body: what follows the first blank line (CRLF CRLF); empty if none.
std::string_view http_body(std::string_view response);

}  // namespace sb::health
