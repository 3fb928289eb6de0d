#include "net/codec/cidr.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sb::net {
namespace {

IpAddress ip(std::string_view text) {
  const auto parsed = IpAddress::parse(text);
  EXPECT_TRUE(parsed.has_value()) << text;
  return parsed.value_or(IpAddress{});
}

Cidr cidr(std::string_view text) {
  const auto parsed = Cidr::parse(text);
  EXPECT_TRUE(parsed.has_value()) << text;
  return parsed.value_or(Cidr{});
}

// ---- IpAddress ----------------------------------------------------------------

TEST(IpBytesTest, ParsesIpv4IntoTheFirstFourBytes) {
  const IpAddress addr = ip("192.0.2.1");
  EXPECT_FALSE(addr.v6);
  EXPECT_EQ(addr.bytes[0], 192);
  EXPECT_EQ(addr.bytes[1], 0);
  EXPECT_EQ(addr.bytes[2], 2);
  EXPECT_EQ(addr.bytes[3], 1);
  for (std::size_t i = 4; i < 16; ++i) EXPECT_EQ(addr.bytes[i], 0) << i;
}

TEST(IpBytesTest, ParsesIpv6) {
  const IpAddress addr = ip("2001:db8::1");
  EXPECT_TRUE(addr.v6);
  EXPECT_EQ(addr.bytes[0], 0x20);
  EXPECT_EQ(addr.bytes[1], 0x01);
  EXPECT_EQ(addr.bytes[2], 0x0d);
  EXPECT_EQ(addr.bytes[3], 0xb8);
  EXPECT_EQ(addr.bytes[15], 0x01);
}

TEST(IpBytesTest, KeepsMappedAddressesAsIpv6UntilUnmapped) {
  const IpAddress mapped = ip("::ffff:10.1.2.3");
  EXPECT_TRUE(mapped.v6);
  const IpAddress plain = mapped.unmapped();
  EXPECT_FALSE(plain.v6);
  EXPECT_EQ(plain, ip("10.1.2.3"));
}

TEST(IpBytesTest, UnmappedLeavesOtherAddressesAlone) {
  for (const char* text : {"10.1.2.3", "2001:db8::1", "::1", "::10.1.2.3", "::fffe:10.1.2.3"}) {
    EXPECT_EQ(ip(text).unmapped(), ip(text)) << text;
  }
}

TEST(IpBytesTest, RejectsGarbage) {
  for (const char* text :
       {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "::g", "[::1]", "1.2.3.4 ", " 1.2.3.4", "01.2.3.4",
        "1.2.3.4/8", "fe80::1%eth0", "2001:db8:::1", "localhost", "0x7f.0.0.1",
        "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"}) {
    EXPECT_FALSE(IpAddress::parse(text).has_value()) << '"' << text << '"';
  }
}

TEST(IpBytesTest, RejectsEmbeddedNul) {
  EXPECT_FALSE(IpAddress::parse(std::string_view("1.2.3.4\0junk", 12)).has_value());
  EXPECT_FALSE(IpAddress::parse(std::string_view("::1\0", 4)).has_value());
}

TEST(IpBytesTest, ToStringRoundTrips) {
  for (const char* text : {"0.0.0.0", "192.0.2.1", "255.255.255.255", "::", "::1", "2001:db8::1",
                           "::ffff:10.1.2.3", "fe80::1:2:3:4", "1:2:3:4:5:6:7:8"}) {
    EXPECT_EQ(ip(text).to_string(), text);
    EXPECT_EQ(ip(ip(text).to_string()), ip(text));
  }
}

TEST(IpBytesTest, ToStringIsCanonical) {
  EXPECT_EQ(ip("2001:0DB8:0000::0001").to_string(), "2001:db8::1");
}

// ---- Cidr parsing -------------------------------------------------------------

TEST(CidrTest, ParsesIpv4Networks) {
  const Cidr net = cidr("10.0.0.0/8");
  EXPECT_FALSE(net.network().v6);
  EXPECT_EQ(net.prefix(), 8);
  EXPECT_EQ(net.network(), ip("10.0.0.0"));
}

TEST(CidrTest, ParsesIpv6Networks) {
  const Cidr net = cidr("2001:db8::/32");
  EXPECT_TRUE(net.network().v6);
  EXPECT_EQ(net.prefix(), 32);
  EXPECT_EQ(net.network(), ip("2001:db8::"));
}

TEST(CidrTest, BareAddressIsAHostRoute) {
  EXPECT_EQ(cidr("192.0.2.7").prefix(), 32);
  EXPECT_EQ(cidr("192.0.2.7").network(), ip("192.0.2.7"));
  EXPECT_EQ(cidr("2001:db8::7").prefix(), 128);
  EXPECT_EQ(cidr("2001:db8::7").network(), ip("2001:db8::7"));
}

TEST(CidrTest, ClearsHostBits) {
  EXPECT_EQ(cidr("10.1.2.3/8").network(), ip("10.0.0.0"));
  EXPECT_EQ(cidr("192.168.1.255/23").network(), ip("192.168.0.0"));
  EXPECT_EQ(cidr("192.0.2.255/25").network(), ip("192.0.2.128"));
  EXPECT_EQ(cidr("255.255.255.255/0").network(), ip("0.0.0.0"));
  EXPECT_EQ(cidr("255.255.255.255/1").network(), ip("128.0.0.0"));
  EXPECT_EQ(cidr("10.0.0.3/31").network(), ip("10.0.0.2"));
  EXPECT_EQ(cidr("2001:db8:ffff::1/32").network(), ip("2001:db8::"));
  EXPECT_EQ(cidr("2001:db8::ff/121").network(), ip("2001:db8::80"));
  EXPECT_EQ(cidr("ffff::1/0").network(), ip("::"));
  EXPECT_EQ(cidr("2001:db8::3/127").network(), ip("2001:db8::2"));
}

TEST(CidrTest, AcceptsEdgePrefixes) {
  for (int prefix : {0, 1, 31, 32}) {
    EXPECT_EQ(cidr("10.0.0.0/" + std::to_string(prefix)).prefix(), prefix);
  }
  for (int prefix : {0, 1, 31, 32, 64, 127, 128}) {
    EXPECT_EQ(cidr("2001:db8::/" + std::to_string(prefix)).prefix(), prefix);
  }
}

TEST(CidrTest, RejectsGarbage) {
  for (const char* text : {"",
                           "/",
                           "/8",
                           "10.0.0.0/",
                           "10.0.0.0/33",
                           "10.0.0.0/-1",
                           "10.0.0.0/+8",
                           "10.0.0.0/ 8",
                           "10.0.0.0/8 ",
                           " 10.0.0.0/8",
                           "10.0.0.0 /8",
                           "10.0.0.0/8/8",
                           "10.0.0.0/x",
                           "10.0.0.0/8x",
                           "10.0.0.0/08",
                           "10.0.0.0/0x8",
                           "10.0.0.0/1000",
                           "10.0.0.0/4294967304",
                           "1.2.3",
                           "1.2.3/8",
                           "::g",
                           "::g/64",
                           "[::1]",
                           "[::1]/128",
                           "::/129",
                           "2001:db8::/-0",
                           "10.0.0.0\\8"}) {
    EXPECT_FALSE(Cidr::parse(text).has_value()) << '"' << text << '"';
  }
}

// ---- Cidr matching ------------------------------------------------------------

TEST(CidrTest, ContainsIpv4) {
  const Cidr net = cidr("10.0.0.0/8");
  EXPECT_TRUE(net.contains(ip("10.0.0.0")));
  EXPECT_TRUE(net.contains(ip("10.255.255.255")));
  EXPECT_TRUE(net.contains(ip("10.1.2.3")));
  EXPECT_FALSE(net.contains(ip("11.0.0.0")));
  EXPECT_FALSE(net.contains(ip("9.255.255.255")));
}

TEST(CidrTest, ContainsAtEdgePrefixesIpv4) {
  EXPECT_TRUE(cidr("10.0.0.2/31").contains(ip("10.0.0.2")));
  EXPECT_TRUE(cidr("10.0.0.2/31").contains(ip("10.0.0.3")));
  EXPECT_FALSE(cidr("10.0.0.2/31").contains(ip("10.0.0.4")));
  EXPECT_FALSE(cidr("10.0.0.2/31").contains(ip("10.0.0.1")));

  EXPECT_TRUE(cidr("10.0.0.2/32").contains(ip("10.0.0.2")));
  EXPECT_FALSE(cidr("10.0.0.2/32").contains(ip("10.0.0.3")));

  EXPECT_TRUE(cidr("128.0.0.0/1").contains(ip("200.1.1.1")));
  EXPECT_FALSE(cidr("128.0.0.0/1").contains(ip("127.255.255.255")));
  EXPECT_TRUE(cidr("0.0.0.0/1").contains(ip("127.255.255.255")));
}

TEST(CidrTest, ContainsAtEdgePrefixesIpv6) {
  EXPECT_TRUE(cidr("2001:db8::2/127").contains(ip("2001:db8::3")));
  EXPECT_FALSE(cidr("2001:db8::2/127").contains(ip("2001:db8::4")));
  EXPECT_TRUE(cidr("2001:db8::2/128").contains(ip("2001:db8::2")));
  EXPECT_FALSE(cidr("2001:db8::2/128").contains(ip("2001:db8::3")));
  EXPECT_TRUE(cidr("8000::/1").contains(ip("ffff::1")));
  EXPECT_FALSE(cidr("8000::/1").contains(ip("7fff::1")));
  EXPECT_TRUE(cidr("2001:db8::/32").contains(ip("2001:db8:ffff:ffff::1")));
  EXPECT_FALSE(cidr("2001:db8::/32").contains(ip("2001:db9::")));
}

TEST(CidrTest, SlashZeroMatchesItsWholeFamilyOnly) {
  const Cidr any4 = cidr("0.0.0.0/0");
  const Cidr any6 = cidr("::/0");
  for (const char* text : {"0.0.0.0", "1.2.3.4", "255.255.255.255"}) {
    EXPECT_TRUE(any4.contains(ip(text))) << text;
    EXPECT_FALSE(any6.contains(ip(text))) << text;
  }
  for (const char* text : {"::", "::1", "2001:db8::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"}) {
    EXPECT_TRUE(any6.contains(ip(text))) << text;
    EXPECT_FALSE(any4.contains(ip(text))) << text;
  }
}

TEST(CidrTest, MappedAddressesMatchIpv4Networks) {
  EXPECT_TRUE(cidr("10.0.0.0/8").contains(ip("::ffff:10.9.8.7")));
  EXPECT_FALSE(cidr("10.0.0.0/8").contains(ip("::ffff:11.9.8.7")));
  EXPECT_TRUE(cidr("192.0.2.1").contains(ip("::ffff:192.0.2.1")));
  EXPECT_TRUE(cidr("0.0.0.0/0").contains(ip("::ffff:1.2.3.4")));
}

TEST(CidrTest, MappedAddressesStillMatchIpv6Networks) {
  // An IPv6 rule written for the mapped range keeps working on mapped input.
  EXPECT_TRUE(cidr("::ffff:0:0/96").contains(ip("::ffff:10.9.8.7")));
  EXPECT_TRUE(cidr("::/0").contains(ip("::ffff:10.9.8.7")));
}

TEST(CidrTest, FamiliesNeverCrossOtherwise) {
  // IPv4 in an IPv6 network, even one spelling the mapped range: no.
  EXPECT_FALSE(cidr("::ffff:0:0/96").contains(ip("10.9.8.7")));
  EXPECT_FALSE(cidr("::/0").contains(ip("10.9.8.7")));
  // IPv4-compatible (::a.b.c.d) and other IPv6 addresses are not IPv4.
  EXPECT_FALSE(cidr("10.0.0.0/8").contains(ip("::10.9.8.7")));
  EXPECT_FALSE(cidr("0.0.0.0/0").contains(ip("::1")));
  // Byte patterns that coincide across families do not match.
  EXPECT_FALSE(cidr("10.0.0.0/8").contains(ip("a00::")));
  EXPECT_FALSE(cidr("a00::/8").contains(ip("10.0.0.0")));
}

TEST(CidrTest, ContainsIgnoresJunkPastTheIpv4Bytes) {
  // IpAddress built by hand (e.g. from a sockaddr) may leave bytes 4..15 set.
  IpAddress addr = ip("10.1.2.3");
  addr.bytes[9] = 0x55;
  EXPECT_TRUE(cidr("10.0.0.0/8").contains(addr));
}

TEST(CidrTest, ToStringRoundTrips) {
  for (const char* text :
       {"10.0.0.0/8", "0.0.0.0/0", "192.0.2.1/32", "128.0.0.0/1", "10.0.0.2/31", "::/0",
        "2001:db8::/32", "2001:db8::1/128", "2001:db8::2/127", "8000::/1", "::ffff:10.0.0.0/104"}) {
    const Cidr net = cidr(text);
    EXPECT_EQ(net.to_string(), text);
    const Cidr again = cidr(net.to_string());
    EXPECT_EQ(again.network(), net.network());
    EXPECT_EQ(again.prefix(), net.prefix());
  }
}

TEST(CidrTest, ToStringShowsTheNormalisedForm) {
  EXPECT_EQ(cidr("10.1.2.3/8").to_string(), "10.0.0.0/8");
  EXPECT_EQ(cidr("192.0.2.7").to_string(), "192.0.2.7/32");
  EXPECT_EQ(cidr("2001:DB8::1").to_string(), "2001:db8::1/128");
  EXPECT_EQ(cidr("2001:db8:1:2::/32").to_string(), "2001:db8::/32");
}

}  // namespace
}  // namespace sb::net
