#pragma once
// The parts of an HTTP/1.x or SIP/2.0 response a health check needs (the two
// share the status-line form, RFC 3261 §7.2): the status code, the body, and
// for SIP over TCP where one message ends. Pure.

#include <cstddef>
#include <optional>
#include <string_view>

namespace sb::health {

struct HttpStatusLine {
  int code = 0;
  std::string_view line;  // "HTTP/1.1 503 Service Unavailable", "SIP/2.0 200 OK"
};

// The status line at the start of `response`; nullopt when it is not one
// ("HTTP/1.x ddd ...") or not complete yet.
std::optional<HttpStatusLine> parse_status_line(std::string_view response);

// The same for SIP: "SIP/2.0 ddd ...".
std::optional<HttpStatusLine> parse_sip_status_line(std::string_view response);

// The body: what follows the first blank line (CRLF CRLF); empty if none.
std::string_view http_body(std::string_view response);

// Length of the first complete SIP message in a TCP byte stream (headers,
// blank line, Content-Length or compact `l:` bytes of body); nullopt while
// incomplete. A message without Content-Length has no body (RFC 3261 §18.3
// requires it on TCP).
std::optional<std::size_t> sip_message_length(std::string_view stream);

}  // namespace sb::health
