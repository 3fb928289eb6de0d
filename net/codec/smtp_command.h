#pragma once
// What an SMTP client sends to a server that speaks SMTP itself (the smtp
// listener in inspect mode, docs/configuration.md "smtp"): command lines
// (RFC 5321 §4.1), the MAIL and RCPT paths with their parameters, and the
// end of a DATA section. Pure: bytes in, views out; nothing here reads a
// socket or allocates per byte.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace sb::net {

// The longest command line accepted, its CRLF included. RFC 5321 §4.5.3.1.4
// sets 512 for commands; 1000 is the text-line limit, which keeps clients
// that send long MAIL parameters (Postfix accepts up to 2048) working.
inline constexpr std::size_t kMaxSmtpCommandLine = 1000;

// Finds the end of the next line in `buffer`: a line ends with LF (a CR
// before it belongs to the line end; a bare LF is accepted as Postfix does).
struct SmtpLine {
  enum class Status { line, need_more, too_long };
  Status status = Status::need_more;
  std::string_view text;     // line: without its CR LF
  std::size_t consumed = 0;  // line: bytes of buffer the line takes, LF included
};
// too_long: no LF within `max` bytes; the caller answers 500 5.5.2 and drops
// input up to the next LF (skip_line()).
SmtpLine next_smtp_line(std::string_view buffer, std::size_t max = kMaxSmtpCommandLine);
// Bytes of `buffer` up to and including its first LF, or all of it when it
// has none (the caller goes on skipping with the next input).
std::size_t skip_smtp_line(std::string_view buffer, bool& found_end);

enum class SmtpVerb : std::uint8_t {
  helo,
  ehlo,
  mail,
  rcpt,
  data,
  rset,
  noop,
  quit,
  vrfy,
  expn,
  help,
  starttls,
  auth,
  bdat,
  unknown,
};

struct SmtpCommand {
  SmtpVerb verb = SmtpVerb::unknown;
  std::string_view argument;  // after the verb and its space, trailing blanks removed
  // MAIL FROM:<path> / RCPT TO:<path>: the path inside the angle brackets
  // ("" for the null sender), and the ESMTP parameters after it.
  std::string_view path;
  std::string_view parameters;
  // MAIL's SIZE= parameter (RFC 1870), when given and valid.
  std::optional<std::uint64_t> size;
  // Non-empty: the command is known but its syntax is wrong; the text of a
  // 501 5.5.4 (or 5.5.2) reply.
  std::string_view error;
};

// Parses one command line (without CRLF). Verbs ignore ASCII case;
// "MAIL FROM:" and "RCPT TO:" allow a space before the path (as Postfix
// does) and a path without angle brackets is an error.
SmtpCommand parse_smtp_command(std::string_view line);

// Finds the end of a DATA section: a line holding only "." (RFC 5321
// §4.1.1.4), the line after the DATA command's own line end. Incremental:
// a terminator split between two reads is found. The bytes before the
// terminating line are the message as sent (dot-stuffing kept); the
// terminating ".\r\n" itself is not part of it.
class SmtpDataEnd {
 public:
  // Scans `chunk`; returns the offset in it just past the terminator, or
  // nullopt when it is not complete yet. After a found end, reset() before
  // the next message.
  std::optional<std::size_t> scan(std::string_view chunk);
  // After scan() found the end: how many bytes the terminating line took
  // (".\r\n": 3, ".\n": 2), some of which may have come in earlier chunks.
  std::size_t terminator_size() const { return terminator_size_; }
  void reset() {
    state_ = State::line_start;
    terminator_size_ = 0;
  }

 private:
  enum class State : std::uint8_t { line_start, dot, dot_cr, in_line };
  State state_ = State::line_start;
  std::size_t terminator_size_ = 0;
};

}  // namespace sb::net
