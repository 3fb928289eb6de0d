// libFuzzer target for the SIP message codec (net/codec/sip_message.h): the
// status line of a response, the framing of a TCP byte stream, the parse of
// a whole message, and what the sip listener writes from a parsed one
// (proxy/protocols/sip/sip_wire.h).
//
// Properties checked on every input, beyond "no crash, no sanitizer report":
//  1. A parsed status line is a prefix of the input ending before its CRLF,
//     starts with "SIP/2.0 ", and its code has three digits.
//  2. A framed message length covers at least the header block (through the
//     blank line) and at most the input, and framing the message alone gives
//     the same length: a reader never cuts a message short or reads past it.
//  3. While the input is a strict prefix of a framed message, it frames as
//     incomplete (the reader waits for more instead of framing early).
//  4. A parsed message lies within the input, its top Via and Call-ID are set,
//     and its body ends where its size says.
//  5. What the proxy writes from a parsed message (one it would pass on: at
//     most kMaxSipFieldsToForward fields) parses again: a forwarded
//     request with our Via on top and the same Call-ID and CSeq, a forwarded
//     response without its top Via, the proxy's own response to a request.
// A violated property aborts, which libFuzzer reports as a crash with the input.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "net/codec/sip_message.h"
#include "proxy/protocols/sip/sip_wire.h"

namespace {

void check(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "property violated: %s\n", what);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  if (const auto status = sb::net::parse_sip_status_line(input)) {
    check(status->line.data() == input.data(), "the status line starts the input");
    check(status->line.size() + 2 <= input.size(), "the status line ends before its CRLF");
    check(input.substr(status->line.size(), 2) == "\r\n", "the status line ends at CRLF");
    check(status->line.starts_with("SIP/2.0 "), "the version is SIP/2.0");
    check(status->code >= 0 && status->code <= 999, "the code has three digits");
  }

  if (const auto length = sb::net::sip_message_length(input)) {
    const std::size_t head = input.find("\r\n\r\n") + 4;
    check(*length >= head, "a message covers its header block");
    check(*length <= input.size(), "a message lies within the input");
    check(sb::net::sip_message_length(input.substr(0, *length)) == length,
          "a message alone frames the same");
    // Every strict prefix that still holds the whole header block waits.
    for (std::size_t cut = head; cut < *length; cut += 1 + (*length - cut) / 8) {
      check(!sb::net::sip_message_length(input.substr(0, cut)), "a cut message is incomplete");
    }
  }
  sb::net::SipMessage m;
  if (sb::net::parse_sip_message(input, m) == sb::net::SipParseError::none) {
    check(m.size <= input.size(), "a message lies within the input");
    check(!m.top_via.empty() && !m.call_id.empty(), "a message has a Via and a Call-ID");
    check(m.body.data() + m.body.size() <= input.data() + input.size(),
          "the body lies within the input");
    std::string out;
    sb::net::SipMessage again;
    if (m.fields.size() > sb::net::kMaxSipFieldsToForward) {
      // The proxy refuses it (400): nothing of it is written out.
    } else if (m.request) {
      sb::sip::ForwardOptions options;
      options.via = {"UDP", "127.0.0.1:5060", "z9hG4bKsb1.1"};
      options.record_route = "<sip:127.0.0.1:5060;lr>";
      sb::sip::write_forwarded_request(m, options, out);
      check(sb::net::parse_sip_message(out, again) == sb::net::SipParseError::none,
            "a forwarded request parses");
      check(again.branch == "z9hG4bKsb1.1", "a forwarded request has our Via on top");
      check(again.call_id == m.call_id && again.cseq == m.cseq, "Call-ID and CSeq are kept");
      check(again.body == m.body, "the body is kept");
      sb::sip::write_response(m, 503, "Service Unavailable", "sbtag", "Retry-After: 30\r\n", out);
      check(sb::net::parse_sip_message(out, again) == sb::net::SipParseError::none,
            "the proxy's own response parses");
      check(again.status == 503 && again.call_id == m.call_id, "its own response matches");
    } else {
      sb::sip::write_forwarded_response(m, "<sip:a;lr>", "<sip:b;lr>", out);
      const auto r = sb::net::parse_sip_message(out, again);
      // The only Via removed: a response with no Via left is malformed.
      check(r == sb::net::SipParseError::none || r == sb::net::SipParseError::missing,
            "a forwarded response parses");
      if (r == sb::net::SipParseError::none) {
        check(again.status == m.status && again.call_id == m.call_id,
              "a forwarded response keeps its status and Call-ID");
      }
    }
  }
  return 0;
}
