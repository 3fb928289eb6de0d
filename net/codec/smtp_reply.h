#pragma once
// Incremental parser of SMTP replies (RFC 5321 §4.2): "250-first\r\n",
// "250-second\r\n", "250 last\r\n" is one reply. Pure: bytes in, a reply out.
// Used by the smtp health check, mx-test and, later, the smtp listener.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace sb::net {

struct SmtpReply {
  int code = 0;                    // 3 digits
  std::vector<std::string> lines;  // each line as received, without CRLF
};

// The extension keywords of an EHLO reply (every line after the first),
// upper-cased: {"PIPELINING", "SIZE", "STARTTLS"}.
std::vector<std::string> ehlo_keywords(const SmtpReply& ehlo);
// Whether an EHLO reply offers `keyword` (upper case).
bool offers(const SmtpReply& ehlo, std::string_view keyword);

// What one reply may hold: a server that keeps sending "250-..." lines is
// refused instead of growing memory until the deadline. Postfix's smtp client
// keeps at most line_length_limit (2048) bytes of a multi-line reply; an EHLO
// reply is a dozen short lines, so 100 lines and 16 KiB leave ample room.
inline constexpr std::size_t kMaxReplyLines = 100;
inline constexpr std::size_t kMaxReplyBytes = 16 * 1024;  // line ends included

class SmtpReplyParser {
 public:
  enum class Status { need_more, done, invalid };

  // `max_line`: longest line accepted (512 for a greeting, 1000 otherwise).
  explicit SmtpReplyParser(std::size_t max_line = 1000, std::size_t max_lines = kMaxReplyLines,
                           std::size_t max_bytes = kMaxReplyBytes)
      : max_line_(max_line), max_lines_(max_lines), max_bytes_(max_bytes) {}

  // Consumes bytes from `data` (advancing it) until a reply is complete, the
  // input runs out, or the input is malformed (not "ddd" + ' ' or '-', mixed
  // codes, a line too long, more than `max_lines` lines or `max_bytes` bytes).
  // On done, reply() holds it and the rest of `data` is left unconsumed.
  Status feed(std::string_view& data);
  const SmtpReply& reply() const { return reply_; }
  std::string_view error() const { return error_; }

 private:
  Status line_done();

  std::size_t max_line_;
  std::size_t max_lines_;
  std::size_t max_bytes_;
  std::size_t bytes_ = 0;  // consumed so far, line ends included
  std::string line_;
  SmtpReply reply_;
  std::string error_;
};

}  // namespace sb::net
