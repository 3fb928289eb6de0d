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

std::string continuation_lines(std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < n; ++i) out += "250-line " + std::to_string(i) + "\r\n";
  return out;
}

TEST(SmtpReply, LinesPerReplyAreCapped) {
  // The most lines allowed: done.
  const std::string at_cap = continuation_lines(kMaxReplyLines - 1) + "250 last\r\n";
  SmtpReplyParser ok;
  std::string_view in = at_cap;
  EXPECT_EQ(ok.feed(in), Status::done);
  EXPECT_EQ(ok.reply().lines.size(), kMaxReplyLines);

  // One more: refused as soon as the line over the cap is announced, without
  // waiting for the rest of an endless reply.
  const std::string endless = continuation_lines(kMaxReplyLines) + "250-and so on\r\n";
  SmtpReplyParser p;
  std::string_view rest = endless;
  EXPECT_EQ(p.feed(rest), Status::invalid);
  EXPECT_EQ(p.error(), "reply longer than 100 lines");
  EXPECT_EQ(rest, "250-and so on\r\n");
}

TEST(SmtpReply, BytesPerReplyAreCapped) {
  // 20 lines of 900 bytes: within the line count, over the byte cap.
  std::string big;
  for (int i = 0; i < 20; ++i) big += "250-" + std::string(896, 'x') + "\r\n";
  big += "250 end\r\n";
  SmtpReplyParser p;
  std::string_view in = big;
  EXPECT_EQ(p.feed(in), Status::invalid);
  EXPECT_EQ(p.error(), "reply longer than 16384 bytes");
  EXPECT_EQ(in.size(), big.size() - kMaxReplyBytes);  // nothing read past the cap

  // Exactly at the cap, byte by byte: done; one byte less: invalid.
  const std::string exact = "250-abcdef\r\n250 ghi\r\n";
  ASSERT_EQ(exact.size(), 21u);
  SmtpReplyParser r(1000, 10, 21);
  for (std::size_t i = 0; i < exact.size(); ++i) {
    std::string_view one = std::string_view(exact).substr(i, 1);
    const auto status = r.feed(one);
    EXPECT_EQ(status, i + 1 == exact.size() ? Status::done : Status::need_more) << i;
  }
  SmtpReplyParser s(1000, 10, 20);
  std::string_view short_cap = exact;
  EXPECT_EQ(s.feed(short_cap), Status::invalid);
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
