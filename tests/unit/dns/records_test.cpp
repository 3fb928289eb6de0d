// SRV and MX answers parsed with their TTLs, from DNS messages built here
// byte by byte (RFC 1035 §4), including name compression and bad input.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "dns/records.h"

namespace sb::dns {
namespace {

class Message {
 public:
  explicit Message(int answers) {
    const std::uint8_t header[12] = {
        0x12, 0x34, 0x81, 0x80, 0, 1, 0, static_cast<std::uint8_t>(answers), 0, 0, 0, 0};
    bytes_.assign(header, header + 12);
  }
  Message& name(const std::string& dotted) {
    std::size_t start = 0;
    while (start < dotted.size()) {
      const auto dot = dotted.find('.', start);
      const auto label = dotted.substr(start, dot - start);
      bytes_.push_back(static_cast<std::uint8_t>(label.size()));
      bytes_.insert(bytes_.end(), label.begin(), label.end());
      if (dot == std::string::npos) break;
      start = dot + 1;
    }
    bytes_.push_back(0);
    return *this;
  }
  Message& pointer(int offset) { return u16(0xc000 | offset); }
  Message& u16(int v) {
    bytes_.push_back(static_cast<std::uint8_t>(v >> 8));
    bytes_.push_back(static_cast<std::uint8_t>(v));
    return *this;
  }
  Message& u32(std::uint32_t v) {
    return u16(static_cast<int>(v >> 16)).u16(static_cast<int>(v & 0xffff));
  }
  Message& question(const std::string& qname, int type) { return name(qname).u16(type).u16(1); }
  // An RR owned by the question's name (pointer to offset 12).
  Message& rr(int type, std::uint32_t ttl, const std::vector<std::uint8_t>& rdata) {
    pointer(12).u16(type).u16(1).u32(ttl).u16(static_cast<int>(rdata.size()));
    bytes_.insert(bytes_.end(), rdata.begin(), rdata.end());
    return *this;
  }
  const unsigned char* data() const { return bytes_.data(); }
  int size() const { return static_cast<int>(bytes_.size()); }
  std::vector<std::uint8_t>& bytes() { return bytes_; }

 private:
  std::vector<std::uint8_t> bytes_;
};

std::vector<std::uint8_t> encoded(const std::string& dotted) {
  Message m(0);
  m.name(dotted);
  return {m.bytes().begin() + 12, m.bytes().end()};
}

std::vector<std::uint8_t> srv_rdata(int priority, int weight, int port, const std::string& target) {
  std::vector<std::uint8_t> r = {
      static_cast<std::uint8_t>(priority >> 8), static_cast<std::uint8_t>(priority),
      static_cast<std::uint8_t>(weight >> 8),   static_cast<std::uint8_t>(weight),
      static_cast<std::uint8_t>(port >> 8),     static_cast<std::uint8_t>(port)};
  const auto name = encoded(target);
  r.insert(r.end(), name.begin(), name.end());
  return r;
}

TEST(ParseSrv, ReadsEveryFieldAndTheTtl) {
  Message m(2);
  m.question("_sip._tcp.um.test", 33)
      .rr(33, 300, srv_rdata(10, 60, 5060, "um1.test"))
      .rr(33, 30, srv_rdata(20, 0, 5061, "um2.test"));
  const auto records = parse_srv_answer(m.data(), m.size());
  ASSERT_TRUE(records);
  ASSERT_EQ(records->size(), 2u);
  EXPECT_EQ((*records)[0].target, "um1.test");
  EXPECT_EQ((*records)[0].priority, 10);
  EXPECT_EQ((*records)[0].weight, 60);
  EXPECT_EQ((*records)[0].port, 5060);
  EXPECT_EQ((*records)[0].ttl, std::chrono::seconds(300));
  EXPECT_EQ((*records)[1].target, "um2.test");
  EXPECT_EQ((*records)[1].ttl, std::chrono::seconds(30));
}

TEST(ParseMx, FollowsCompressionAndSkipsOtherTypes) {
  Message m(3);
  m.question("example.test", 15);
  // exchange "mx1" + pointer to "example.test" in the question.
  m.rr(15, 60, {0, 10, 3, 'm', 'x', '1', 0xc0, 12});
  m.rr(46, 60, {1, 2, 3});  // an RRSIG-like record: skipped
  m.rr(15, 120, {0, 20, 3, 'm', 'x', '2', 0xc0, 12});
  const auto records = parse_mx_answer(m.data(), m.size());
  ASSERT_TRUE(records);
  ASSERT_EQ(records->size(), 2u);
  EXPECT_EQ((*records)[0].host, "mx1.example.test");
  EXPECT_EQ((*records)[0].preference, 10);
  EXPECT_EQ((*records)[0].ttl, std::chrono::seconds(60));
  EXPECT_EQ((*records)[1].host, "mx2.example.test");
  EXPECT_EQ((*records)[1].preference, 20);
}

TEST(ParseMx, RefusesMalformedMessages) {
  Message good(1);
  good.question("example.test", 15).rr(15, 60, {0, 10, 3, 'm', 'x', '1', 0xc0, 12});
  // Every truncation of a good message is refused, never read past its end.
  for (int n = 0; n < good.size(); ++n) {
    EXPECT_FALSE(parse_mx_answer(good.data(), n)) << n;
  }
  // A compression pointer to itself.
  Message loop(1);
  loop.question("example.test", 15);
  const int at = loop.size();
  loop.u16(0xc000 | at).u16(15).u16(1).u32(60).u16(3).u16(10).bytes().push_back(0);
  EXPECT_FALSE(parse_mx_answer(loop.data(), loop.size()));
  // rdata shorter than a preference and a name.
  Message short_rdata(1);
  short_rdata.question("example.test", 15).rr(15, 60, {0, 10});
  EXPECT_FALSE(parse_mx_answer(short_rdata.data(), short_rdata.size()));
}

// An MX record whose exchange is `labels` labels of 63 bytes followed by a
// pointer to the question's "example.test".
std::vector<std::uint8_t> long_exchange(int labels) {
  std::vector<std::uint8_t> rdata = {0, 10};
  for (int i = 0; i < labels; ++i) {
    rdata.push_back(63);
    rdata.insert(rdata.end(), 63, static_cast<std::uint8_t>('a' + i));
  }
  rdata.insert(rdata.end(), {0xc0, 12});
  return rdata;
}

TEST(ParseMx, RefusesNamesLongerThanRfc1035Allows) {
  // c-ares expands names of some 3 KiB; a message is refused for any name
  // over 255 bytes, which no DNS server sends (RFC 1035 section 2.3.4).
  Message fits(1);
  fits.question("example.test", 15).rr(15, 60, long_exchange(3));  // 3 x 64 + 14 bytes
  const auto records = parse_mx_answer(fits.data(), fits.size());
  ASSERT_TRUE(records);
  ASSERT_EQ(records->size(), 1u);
  EXPECT_EQ((*records)[0].host.size(), 3 * 64 + 12u);
  Message too_long(1);
  too_long.question("example.test", 15).rr(15, 60, long_exchange(4));  // 270 bytes
  EXPECT_FALSE(parse_mx_answer(too_long.data(), too_long.size()));
  // A label of one NUL byte, which c-ares shows as the end of the name.
  Message nul(1);
  nul.question("example.test", 15).rr(15, 60, {0, 10, 1, 'x', 1, 0, 1, 'y', 0});
  EXPECT_FALSE(parse_mx_answer(nul.data(), nul.size()));
}

TEST(ParseSrv, AnEmptyAnswerIsNoRecords) {
  Message m(0);
  m.question("_sip._tcp.um.test", 33);
  const auto records = parse_srv_answer(m.data(), m.size());
  ASSERT_TRUE(records);
  EXPECT_TRUE(records->empty());
}

TEST(AddressRecord, PrintsBothFamilies) {
  AddressRecord v4;
  v4.ip.bytes = {10, 0, 0, 11};
  EXPECT_EQ(v4.to_string(), "10.0.0.11");
  AddressRecord v6;
  v6.ip.v6 = true;
  v6.ip.bytes = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  EXPECT_EQ(v6.to_string(), "2001:db8::1");
}

}  // namespace
}  // namespace sb::dns
