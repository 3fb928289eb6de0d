// libFuzzer target for the SIP message codec (net/codec/sip_message.h): the
// status line of a response and the framing of a TCP byte stream.
//
// Properties checked on every input, beyond "no crash, no sanitizer report":
//  1. A parsed status line is a prefix of the input ending before its CRLF,
//     starts with "SIP/2.0 ", and its code has three digits.
//  2. A framed message length covers at least the header block (through the
//     blank line) and at most the input, and framing the message alone gives
//     the same length: a reader never cuts a message short or reads past it.
//  3. While the input is a strict prefix of a framed message, it frames as
//     incomplete (the reader waits for more instead of framing early).
// A violated property aborts, which libFuzzer reports as a crash with the input.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "net/codec/sip_message.h"

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
  return 0;
}
