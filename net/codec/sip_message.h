#pragma once
// The parts of a SIP/2.0 response the sip-options check needs: the status
// line (the HTTP form, RFC 3261 §7.2) and, over TCP, where one message ends.
// Pure. (The http checks parse with Beast.)

#include <cstddef>
#include <optional>
#include <string_view>

namespace sb::net {

struct SipStatusLine {
  int code = 0;
  std::string_view line;  // "HTTP/1.1 503 Service Unavailable", "SIP/2.0 200 OK"
};

// The status line at the start of `response` ("SIP/2.0 ddd ..."); nullopt
// when it is not one or not complete yet.
std::optional<SipStatusLine> parse_sip_status_line(std::string_view response);

// Length of the first complete SIP message in a TCP byte stream (headers,
// blank line, Content-Length or compact `l:` bytes of body); nullopt while
// incomplete. A message without Content-Length has no body (RFC 3261 §18.3
// requires it on TCP).
std::optional<std::size_t> sip_message_length(std::string_view stream);

}  // namespace sb::net
