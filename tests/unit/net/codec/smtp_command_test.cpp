#include "net/codec/smtp_command.h"

#include <gtest/gtest.h>

#include <string>

namespace sb::net {
namespace {

TEST(SmtpLine, SplitsOnLfAndDropsCr) {
  SmtpLine l = next_smtp_line("EHLO a\r\nNOOP\r\n");
  ASSERT_EQ(l.status, SmtpLine::Status::line);
  EXPECT_EQ(l.text, "EHLO a");
  EXPECT_EQ(l.consumed, 8u);
  l = next_smtp_line("NOOP\n");  // a bare LF ends a line too
  ASSERT_EQ(l.status, SmtpLine::Status::line);
  EXPECT_EQ(l.text, "NOOP");
  EXPECT_EQ(next_smtp_line("NOO").status, SmtpLine::Status::need_more);
  EXPECT_EQ(next_smtp_line("").status, SmtpLine::Status::need_more);
}

TEST(SmtpLine, ThousandBytesWithCrlfPassAndOneMoreIsTooLong) {
  const std::string ok = "NOOP " + std::string(kMaxSmtpCommandLine - 7, 'x') + "\r\n";
  ASSERT_EQ(ok.size(), kMaxSmtpCommandLine);
  EXPECT_EQ(next_smtp_line(ok).status, SmtpLine::Status::line);
  const std::string long_line = "NOOP " + std::string(kMaxSmtpCommandLine - 6, 'x') + "\r\n";
  EXPECT_EQ(next_smtp_line(long_line).status, SmtpLine::Status::too_long);
  // Not yet known to be long: more may still end it in time.
  EXPECT_EQ(next_smtp_line(std::string(kMaxSmtpCommandLine - 1, 'x')).status,
            SmtpLine::Status::need_more);
  bool found = false;
  EXPECT_EQ(skip_smtp_line(long_line, found), long_line.size());
  EXPECT_TRUE(found);
  EXPECT_EQ(skip_smtp_line("xxxx", found), 4u);
  EXPECT_FALSE(found);
}

TEST(SmtpCommand, VerbsIgnoreCase) {
  EXPECT_EQ(parse_smtp_command("ehlo client.example").verb, SmtpVerb::ehlo);
  EXPECT_EQ(parse_smtp_command("ehlo client.example").argument, "client.example");
  EXPECT_EQ(parse_smtp_command("Quit").verb, SmtpVerb::quit);
  EXPECT_EQ(parse_smtp_command("StartTLS").verb, SmtpVerb::starttls);
  EXPECT_EQ(parse_smtp_command("XYZZY").verb, SmtpVerb::unknown);
  EXPECT_EQ(parse_smtp_command("").verb, SmtpVerb::unknown);
  EXPECT_FALSE(parse_smtp_command("EHLO").error.empty());
  EXPECT_FALSE(parse_smtp_command("DATA now").error.empty());
}

TEST(SmtpCommand, MailPathParametersAndSize) {
  SmtpCommand c = parse_smtp_command("MAIL FROM:<a@example.com> SIZE=1234 BODY=8BITMIME");
  EXPECT_EQ(c.verb, SmtpVerb::mail);
  EXPECT_TRUE(c.error.empty());
  EXPECT_EQ(c.path, "a@example.com");
  EXPECT_EQ(c.parameters, "SIZE=1234 BODY=8BITMIME");
  ASSERT_TRUE(c.size);
  EXPECT_EQ(*c.size, 1234u);
  c = parse_smtp_command("mail from: <>");  // the null sender, a space as Postfix allows
  EXPECT_TRUE(c.error.empty());
  EXPECT_EQ(c.path, "");
  EXPECT_FALSE(c.size);
  EXPECT_FALSE(parse_smtp_command("MAIL FROM:a@example.com").error.empty());
  EXPECT_FALSE(parse_smtp_command("MAIL TO:<a@example.com>").error.empty());
  EXPECT_FALSE(parse_smtp_command("MAIL FROM:<a@example.com").error.empty());
  EXPECT_FALSE(parse_smtp_command("MAIL FROM:<a@example.com> size=12x").size);
}

TEST(SmtpCommand, RcptNeedsAnAddress) {
  SmtpCommand c = parse_smtp_command("RCPT TO:<b@example.com> NOTIFY=NEVER");
  EXPECT_TRUE(c.error.empty());
  EXPECT_EQ(c.path, "b@example.com");
  EXPECT_EQ(c.parameters, "NOTIFY=NEVER");
  EXPECT_FALSE(parse_smtp_command("RCPT TO:<>").error.empty());
  EXPECT_FALSE(parse_smtp_command("RCPT <b@example.com>").error.empty());
}

// Feeds `message` in pieces of `step` bytes; the offset of the end in the
// whole, or npos.
std::size_t end_of(const std::string& message, std::size_t step, std::size_t* term = nullptr) {
  SmtpDataEnd scanner;
  for (std::size_t at = 0; at < message.size(); at += step) {
    const std::string_view piece = std::string_view(message).substr(at, step);
    if (auto end = scanner.scan(piece)) {
      if (term) *term = scanner.terminator_size();
      return at + *end;
    }
  }
  return std::string::npos;
}

TEST(SmtpDataEnd, FindsTheDotLineAcrossEveryChunkSize) {
  const std::string message = "Subject: x\r\n\r\n..leading dot\r\n.x\r\nbody\r\n.\r\nNOOP\r\n";
  const std::size_t expected = message.find("\r\n.\r\n") + 5;
  for (std::size_t step = 1; step <= message.size(); ++step) {
    std::size_t term = 0;
    EXPECT_EQ(end_of(message, step, &term), expected) << "step " << step;
    EXPECT_EQ(term, 3u);
  }
}

TEST(SmtpDataEnd, AnEmptyMessageAndBareLf) {
  EXPECT_EQ(end_of(".\r\n", 1), 3u);  // right after DATA's own line end
  std::size_t term = 0;
  EXPECT_EQ(end_of("a\n.\n", 2, &term), 4u);
  EXPECT_EQ(term, 2u);
  // A dot that starts a longer line, or ".\r" followed by anything but LF.
  EXPECT_EQ(end_of("a\r\n.\r.\r\n..\r\n", 3), std::string::npos);
  EXPECT_EQ(end_of("no end\r\n", 4), std::string::npos);
}

}  // namespace
}  // namespace sb::net
