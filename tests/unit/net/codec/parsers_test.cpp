// The codecs of SMTP replies and SIP messages (pure, byte-in / byte-out).
#include <gtest/gtest.h>

#include "net/codec/sip_message.h"
#include "net/codec/smtp_reply.h"

namespace sb::net {
namespace {

using Status = SmtpReplyParser::Status;

TEST(SmtpReply, SingleAndMultiLine) {
  SmtpReplyParser p;
  std::string_view in = "220 mx1 ESMTP ready\r\nEXTRA";
  EXPECT_EQ(p.feed(in), Status::done);
  EXPECT_EQ(p.reply().code, 220);
  EXPECT_EQ(in, "EXTRA");  // the rest is left for the next reply

  SmtpReplyParser m;
  std::string_view ehlo = "250-mx1\r\n250-PIPELINING\r\n250 STARTTLS\r\n";
  EXPECT_EQ(m.feed(ehlo), Status::done);
  EXPECT_EQ(m.reply().lines.size(), 3u);
  EXPECT_EQ(m.reply().lines[2], "250 STARTTLS");
}

TEST(SmtpReply, ArrivesInPieces) {
  const std::string whole = "220-first\r\n220-second\n220 last\r\n";  // bare LF accepted
  for (std::size_t cut = 0; cut < whole.size(); ++cut) {
    SmtpReplyParser p;
    std::string_view a = std::string_view(whole).substr(0, cut);
    std::string_view b = std::string_view(whole).substr(cut);
    if (p.feed(a) == Status::done) FAIL() << "done too early at " << cut;
    EXPECT_EQ(p.feed(b), Status::done) << cut;
    EXPECT_EQ(p.reply().lines.size(), 3u);
  }
}

TEST(SmtpReply, GarbageIsInvalid) {
  for (std::string_view bad :
       {"HTTP/1.1 200 OK\r\n", "22\r\n", "220x\r\n", "abc def\r\n", "250-a\r\n251 b\r\n"}) {
    SmtpReplyParser p;
    std::string_view in = bad;
    EXPECT_EQ(p.feed(in), Status::invalid) << bad;
    EXPECT_FALSE(p.error().empty());
  }
}

TEST(SmtpReply, LongLinesAreRefused) {
  SmtpReplyParser p(512);
  const std::string line = "220 " + std::string(600, 'x');
  std::string_view in = line;
  EXPECT_EQ(p.feed(in), Status::invalid);
  EXPECT_EQ(p.error(), "reply line too long");
}

TEST(SipStatus, ParsesFinalAndProvisional) {
  auto s = parse_sip_status_line("SIP/2.0 200 OK\r\nVia: x\r\n\r\n");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->code, 200);
  EXPECT_EQ(s->line, "SIP/2.0 200 OK");
  EXPECT_EQ(parse_sip_status_line("SIP/2.0 100 Trying\r\n")->code, 100);
  EXPECT_TRUE(parse_sip_status_line("SIP/2.0 200\r\n"));
  for (std::string_view bad :
       {"", "OPTIONS sip:a SIP/2.0\r\n", "SIP/2.0 20 OK\r\n", "HTTP/1.1 200 OK\r\n",
        "SIP/2.0 200 OK", "SIP/2.0 2x0 OK\r\n", "SIP/2.0 2000\r\n"}) {
    EXPECT_FALSE(parse_sip_status_line(bad)) << bad;
  }
}

TEST(SipMessageLength, FramesATcpStream) {
  const std::string one = "SIP/2.0 100 Trying\r\nContent-Length: 0\r\n\r\n";
  const std::string two = "SIP/2.0 200 OK\r\nl: 4\r\n\r\nv=0\n";
  const std::string stream = one + two + "SIP/2.0";
  EXPECT_EQ(sip_message_length(stream), one.size());
  EXPECT_EQ(sip_message_length(std::string_view(stream).substr(one.size())), two.size());
  // Incomplete: headers not ended, or the body not all there yet.
  EXPECT_FALSE(sip_message_length("SIP/2.0 200 OK\r\nContent-Length: 0\r\n"));
  EXPECT_FALSE(sip_message_length("SIP/2.0 200 OK\r\ncontent-length : 10\r\n\r\nshort"));
}

TEST(SipMessageLength, AHugeContentLengthIsIncompleteNotAShortMessage) {
  // 2^64 - 1: head + body would wrap around to a length shorter than the
  // headers (found by fuzz/sip_message_fuzz.cpp).
  const std::string_view stream = "SIP/2.0 200 OK\r\nl: 18446744073709551615\r\n\r\nbody";
  EXPECT_FALSE(sip_message_length(stream));
  EXPECT_FALSE(sip_message_length("SIP/2.0 200 OK\r\nContent-Length: 5\r\n\r\nbody"));
  EXPECT_EQ(sip_message_length("SIP/2.0 200 OK\r\nContent-Length: 4\r\n\r\nbody"), 41u);
}

TEST(EhloKeywords, UpperCasedKeywordsAfterTheFirstLine) {
  SmtpReply ehlo{250, {"250-mx1 Hello", "250-PIPELINING", "250-size 10240000", "250 starttls"}};
  EXPECT_EQ(ehlo_keywords(ehlo), (std::vector<std::string>{"PIPELINING", "SIZE", "STARTTLS"}));
  EXPECT_TRUE(offers(ehlo, "STARTTLS"));
  EXPECT_FALSE(offers(ehlo, "AUTH"));
  EXPECT_FALSE(offers(SmtpReply{250, {"250 mx1 STARTTLS"}}, "STARTTLS"));
}

}  // namespace
}  // namespace sb::net
