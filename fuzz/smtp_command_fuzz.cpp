// libFuzzer target for the SMTP command codec (net/codec/smtp_command.h):
// what an smtp listener in inspect mode reads from its clients.
//
// Properties checked on every input, beyond "no crash, no sanitizer report":
//  1. Lines: next_smtp_line() never consumes more than the buffer, a line's
//     text holds no LF and a too-long status only comes with no LF in the
//     first kMaxSmtpCommandLine bytes.
//  2. Commands: every view parse_smtp_command() returns lies inside the line;
//     a MAIL or RCPT without an error has its path between angle brackets.
//  3. The end of DATA is found at the same offset whatever the chunking (all
//     at once, one byte at a time, pieces of the first byte's size), and the
//     bytes before it end with the terminator it reports.
// A violated property aborts, which libFuzzer reports as a crash with the input.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string_view>

#include "net/codec/smtp_command.h"

namespace {

using namespace sb::net;

void check(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "property violated: %s\n", what);
    std::abort();
  }
}

bool inside(std::string_view part, std::string_view whole) {
  return part.empty() ||
         (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

std::optional<std::size_t> data_end(std::string_view in, std::size_t step, std::size_t& term) {
  SmtpDataEnd scanner;
  for (std::size_t at = 0; at < in.size(); at += step) {
    if (auto end = scanner.scan(in.substr(at, step))) {
      term = scanner.terminator_size();
      return at + *end;
    }
  }
  return std::nullopt;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);

  std::string_view rest = in;
  while (!rest.empty()) {
    const SmtpLine line = next_smtp_line(rest);
    if (line.status == SmtpLine::Status::need_more) break;
    if (line.status == SmtpLine::Status::too_long) {
      check(rest.substr(0, kMaxSmtpCommandLine).find('\n') == std::string_view::npos,
            "too long with a line end in reach");
      bool found = false;
      const std::size_t skipped = skip_smtp_line(rest, found);
      check(skipped > 0 && skipped <= rest.size(), "skip within the buffer");
      rest.remove_prefix(skipped);
      continue;
    }
    check(line.consumed > 0 && line.consumed <= rest.size(), "line within the buffer");
    check(line.text.find('\n') == std::string_view::npos, "LF in a line");
    const SmtpCommand c = parse_smtp_command(line.text);
    check(inside(c.argument, line.text) && inside(c.path, line.text) &&
              inside(c.parameters, line.text),
          "views inside the line");
    if ((c.verb == SmtpVerb::mail || c.verb == SmtpVerb::rcpt) && c.error.empty()) {
      check(c.path.data() > line.text.data() && c.path.data()[-1] == '<' &&
                c.path.data()[c.path.size()] == '>',
            "path between angle brackets");
    }
    rest.remove_prefix(line.consumed);
  }

  std::size_t t1 = 0, t2 = 0, t3 = 0;
  const auto whole = data_end(in, in.size() ? in.size() : 1, t1);
  const auto bytes = data_end(in, 1, t2);
  const auto pieces = data_end(in, size ? (data[0] % 16) + 1 : 1, t3);
  check(whole == bytes && bytes == pieces, "data end depends on chunking");
  if (whole) {
    check(t1 == t2 && t2 == t3 && (t1 == 2 || t1 == 3), "terminator size");
    check(*whole >= t1, "terminator inside");
    const std::string_view term = in.substr(*whole - t1, t1);
    check(term == ".\r\n" || term == ".\n", "terminator bytes");
  }
  return 0;
}
