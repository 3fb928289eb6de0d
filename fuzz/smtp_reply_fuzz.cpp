// libFuzzer target for the SMTP reply parser (net/codec/smtp_reply.h).
//
// Properties checked on every input, beyond "no crash, no sanitizer report":
//  1. Fed all at once, in one-byte pieces, or in pieces of the input's first
//     byte's size, the parser reaches the same status, consumes the same
//     bytes and produces the same reply: a socket reader's chunking never
//     changes what a server said.
//  2. A done reply has 1+ lines, each starting with its 3-digit code, each
//     at most max_line bytes, at most max_lines of them in at most max_bytes
//     consumed; invalid always names a reason. The limits are small here so
//     that the fuzzer reaches them.
//  3. ehlo_keywords() of any reply is upper case and never longer than the
//     reply's lines.
// A violated property aborts, which libFuzzer reports as a crash with the input.

#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "net/codec/smtp_reply.h"

namespace {

using sb::net::SmtpReplyParser;

void check(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "property violated: %s\n", what);
    std::abort();
  }
}

struct Outcome {
  SmtpReplyParser::Status status;
  std::size_t consumed;
  sb::net::SmtpReply reply;
};

constexpr std::size_t kMaxLine = 512;
constexpr std::size_t kMaxLines = 8;
constexpr std::size_t kMaxBytes = 1024;

Outcome parse_in_pieces(std::string_view input, std::size_t piece) {
  SmtpReplyParser parser(kMaxLine, kMaxLines, kMaxBytes);
  std::size_t consumed = 0;
  SmtpReplyParser::Status status = SmtpReplyParser::Status::need_more;
  while (consumed < input.size()) {
    std::string_view chunk = input.substr(consumed, piece);
    const std::size_t before = chunk.size();
    status = parser.feed(chunk);
    consumed += before - chunk.size();
    if (status != SmtpReplyParser::Status::need_more) break;
  }
  if (status == SmtpReplyParser::Status::invalid)
    check(!parser.error().empty(), "invalid names a reason");
  return {status, consumed, parser.reply()};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const Outcome whole = parse_in_pieces(input, input.size() + 1);
  const Outcome bytes = parse_in_pieces(input, 1);
  const Outcome odd = parse_in_pieces(input, size > 0 ? 1 + data[0] % 17 : 1);
  for (const Outcome* other : {&bytes, &odd}) {
    check(other->status == whole.status, "status depends on chunking");
    check(other->consumed == whole.consumed, "consumed bytes depend on chunking");
    check(other->reply.code == whole.reply.code && other->reply.lines == whole.reply.lines,
          "reply depends on chunking");
  }
  if (whole.status == SmtpReplyParser::Status::done) {
    check(!whole.reply.lines.empty(), "a done reply has a line");
    check(whole.reply.lines.size() <= kMaxLines, "line count within bounds");
    check(whole.consumed <= kMaxBytes, "reply size within bounds");
    check(whole.reply.code >= 0 && whole.reply.code <= 999, "the code has three digits");
    for (const auto& line : whole.reply.lines) {
      check(line.size() >= 3 && line.size() <= kMaxLine, "line length within bounds");
      const int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
      check(code == whole.reply.code, "every line carries the reply's code");
    }
    const auto keywords = sb::net::ehlo_keywords(whole.reply);
    check(keywords.size() < whole.reply.lines.size() || keywords.empty(),
          "at most one keyword per line after the first");
    for (const auto& k : keywords) {
      for (char c : k)
        check(!std::islower(static_cast<unsigned char>(c)), "keywords are upper case");
    }
  }
  return 0;
}
