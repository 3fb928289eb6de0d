#include "net/codec/proxy_protocol.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace sb::net {
namespace {

using namespace std::string_literals;

const std::string kSignature("\r\n\r\n\0\r\nQUIT\n", 12);

IpAddress ip(std::string_view text) {
  const auto parsed = IpAddress::parse(text);
  EXPECT_TRUE(parsed.has_value()) << text;
  return parsed.value_or(IpAddress{});
}

ProxyAddresses tcp(std::string_view src, std::uint16_t src_port, std::string_view dst,
                   std::uint16_t dst_port) {
  ProxyAddresses addresses;
  addresses.src = ip(src);
  addresses.dst = ip(dst);
  addresses.src_port = src_port;
  addresses.dst_port = dst_port;
  return addresses;
}

ProxyAddresses local() {
  ProxyAddresses addresses;
  addresses.local = true;
  return addresses;
}

ParseResult parse(const std::string& data) {
  return parse_proxy_header(data);
}

std::string v1(const ProxyAddresses& addresses) {
  std::array<char, kMaxV1> buffer{};
  const std::size_t n = encode_v1(addresses, buffer);
  EXPECT_GT(n, 0u);
  return std::string(buffer.data(), n);
}

std::string v2(const ProxyAddresses& addresses) {
  std::array<char, kMaxV2> buffer{};
  const std::size_t n = encode_v2(addresses, buffer);
  EXPECT_GT(n, 0u);
  return std::string(buffer.data(), n);
}

// A v2 header by hand: signature, version/command, family/transport, the
// length of `body`, then `body`.
std::string v2_raw(std::uint8_t ver_cmd, std::uint8_t fam, const std::string& body) {
  std::string out = kSignature;
  out += static_cast<char>(ver_cmd);
  out += static_cast<char>(fam);
  out += static_cast<char>(body.size() >> 8);
  out += static_cast<char>(body.size() & 0xff);
  return out + body;
}

std::string bytes(std::initializer_list<int> values) {
  std::string out;
  for (int v : values) out += static_cast<char>(v);
  return out;
}

void expect_done(const std::string& data, std::size_t consumed, const ProxyAddresses& expected) {
  const ParseResult result = parse(data);
  ASSERT_EQ(result.status, ParseStatus::done) << result.error;
  EXPECT_EQ(result.consumed, consumed);
  EXPECT_EQ(result.addresses, expected);
  EXPECT_TRUE(result.error.empty());
}

void expect_invalid(const std::string& data) {
  const ParseResult result = parse(data);
  EXPECT_EQ(result.status, ParseStatus::invalid) << testing::PrintToString(data);
  EXPECT_EQ(result.consumed, 0u);
  EXPECT_FALSE(result.error.empty());
}

void expect_need_more(const std::string& data) {
  const ParseResult result = parse(data);
  EXPECT_EQ(result.status, ParseStatus::need_more)
      << testing::PrintToString(data) << " error: " << result.error;
  EXPECT_EQ(result.consumed, 0u);
}

// ---- v1 encoding and round trips ---------------------------------------------

TEST(ProxyProtocolV1Test, EncodesIpv4) {
  EXPECT_EQ(v1(tcp("192.0.2.1", 56324, "198.51.100.7", 443)),
            "PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n");
}

TEST(ProxyProtocolV1Test, EncodesIpv6) {
  EXPECT_EQ(v1(tcp("2001:db8::1", 1, "2001:db8::2", 65535)),
            "PROXY TCP6 2001:db8::1 2001:db8::2 1 65535\r\n");
}

TEST(ProxyProtocolV1Test, EncodesLocalAsUnknown) {
  ProxyAddresses addresses = tcp("192.0.2.1", 1, "192.0.2.2", 2);
  addresses.local = true;  // addresses are ignored
  EXPECT_EQ(v1(addresses), "PROXY UNKNOWN\r\n");
}

TEST(ProxyProtocolV1Test, RoundTrips) {
  for (const ProxyAddresses& addresses :
       {tcp("192.0.2.1", 56324, "198.51.100.7", 443), tcp("0.0.0.0", 0, "255.255.255.255", 65535),
        tcp("2001:db8::1", 1234, "2001:db8::2", 25),
        tcp("::ffff:10.0.0.1", 1, "::ffff:10.0.0.2", 2),
        tcp("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535, "::", 0), local()}) {
    const std::string header = v1(addresses);
    expect_done(header, header.size(), addresses);
  }
}

TEST(ProxyProtocolV1Test, LongestEncodingFitsTheLimit) {
  const std::string header = v1(tcp("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535,
                                    "1111:2222:3333:4444:5555:6666:7777:8888", 65535));
  EXPECT_LE(header.size(), kMaxV1);
}

TEST(ProxyProtocolV1Test, ReconcilesMixedFamilies) {
  // v4-mapped + v4: unmap, stay IPv4.
  EXPECT_EQ(v1(tcp("::ffff:192.0.2.1", 1, "198.51.100.7", 2)),
            "PROXY TCP4 192.0.2.1 198.51.100.7 1 2\r\n");
  EXPECT_EQ(v1(tcp("192.0.2.1", 1, "::ffff:198.51.100.7", 2)),
            "PROXY TCP4 192.0.2.1 198.51.100.7 1 2\r\n");
  // Real v6 + v4: IPv6 with the v4 side mapped.
  EXPECT_EQ(v1(tcp("192.0.2.1", 1, "2001:db8::7", 2)),
            "PROXY TCP6 ::ffff:192.0.2.1 2001:db8::7 1 2\r\n");
  EXPECT_EQ(v1(tcp("2001:db8::7", 1, "192.0.2.1", 2)),
            "PROXY TCP6 2001:db8::7 ::ffff:192.0.2.1 1 2\r\n");
  // Same family: left alone, even when one side is mapped.
  EXPECT_EQ(v1(tcp("::ffff:192.0.2.1", 1, "2001:db8::7", 2)),
            "PROXY TCP6 ::ffff:192.0.2.1 2001:db8::7 1 2\r\n");
}

TEST(ProxyProtocolV1Test, EncoderRefusesASmallBuffer) {
  std::array<char, 20> small{};
  small.fill('x');
  EXPECT_EQ(encode_v1(tcp("192.0.2.1", 1, "192.0.2.2", 2), small), 0u);
  EXPECT_EQ(small[0], 'x');
  std::array<char, 15> exact{};
  EXPECT_EQ(encode_v1(local(), exact), 15u);
}

// ---- v1 decoding ----------------------------------------------------------------

TEST(ProxyProtocolV1Test, ParsesTheSpecExample) {
  expect_done("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n", 47,
              tcp("192.168.0.1", 56324, "192.168.0.11", 443));
}

TEST(ProxyProtocolV1Test, UnknownIgnoresTheRestOfTheLine) {
  expect_done("PROXY UNKNOWN\r\n", 15, local());
  expect_done("PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n", 35, local());
  expect_done("PROXY UNKNOWN whatever\r\n", 24, local());
  expect_invalid("PROXY UNKNOWNX\r\n");
}

TEST(ProxyProtocolV1Test, LeavesPayloadUnconsumed) {
  const std::string header = "PROXY TCP4 192.0.2.1 192.0.2.2 1000 25\r\n";
  const std::string data = header + "EHLO client.example\r\n";
  expect_done(data, header.size(), tcp("192.0.2.1", 1000, "192.0.2.2", 25));
  // Even a payload that itself looks like a PROXY header.
  expect_done(header + header, header.size(), tcp("192.0.2.1", 1000, "192.0.2.2", 25));
}

TEST(ProxyProtocolV1Test, PortBounds) {
  expect_done("PROXY TCP4 1.2.3.4 5.6.7.8 0 65535\r\n", 36, tcp("1.2.3.4", 0, "5.6.7.8", 65535));
  for (const char* port : {"65536", "99999", "100000", "01", "00", "007", "-1", "+1", "1a", "0x1",
                           "", " 1", "1.0", "4294967297"}) {
    expect_invalid("PROXY TCP4 1.2.3.4 5.6.7.8 "s + port + " 80\r\n");
    expect_invalid("PROXY TCP4 1.2.3.4 5.6.7.8 80 "s + port + "\r\n");
  }
}

TEST(ProxyProtocolV1Test, RejectsMalformedLines) {
  for (const char* line : {
           "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n",   // trailing space
           "PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n",   // double space
           "PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n",   // double space after PROXY
           "PROXY TCP4\t1.2.3.4 5.6.7.8 1 2\r\n",   // tab
           "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",      // missing field
           "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n",  // extra field
           "PROXY TCP4 ::1 ::2 1 2\r\n",            // family mismatch
           "PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n",    // family mismatch
           "PROXY TCP6 ::1 5.6.7.8 1 2\r\n",        // mixed
           "PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n",      // bad address
           "PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n",   // leading zero in address
           "PROXY TCP6 [::1] [::2] 1 2\r\n",        // brackets
           "PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n",    // not TCP
           "PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n",    // case
           "PROXY \r\n",                            // empty
           "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",      // bare LF
           "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX\n",   // CR not followed by LF
           "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\r\n",  // CR CR LF
           "PROXY UNKNOWN\n",                       // bare LF
       }) {
    expect_invalid(line);
  }
  expect_invalid("PROXY TCP4 1.2.3.4\0 5.6.7.8 1 2\r\n"s);
}

TEST(ProxyProtocolV1Test, LineIsBoundedAt107Bytes) {
  // A 107-byte line (CRLF included) is the longest allowed.
  const std::string head = "PROXY UNKNOWN ";
  const std::string longest = head + std::string(kMaxV1 - head.size() - 2, 'x') + "\r\n";
  ASSERT_EQ(longest.size(), kMaxV1);
  expect_done(longest, kMaxV1, local());

  const std::string too_long = head + std::string(kMaxV1 - head.size() - 1, 'x') + "\r\n";
  expect_invalid(too_long);
  // Without CRLF: still waiting at 106 bytes, refused at 107.
  expect_need_more(std::string(head + std::string(kMaxV1 - 1 - head.size(), 'x')));
  expect_invalid(std::string(head + std::string(kMaxV1 - head.size(), 'x')));
  expect_invalid(std::string(head + std::string(4000, 'x')));
  // CR as the 107th byte cannot be followed by LF within the limit.
  expect_invalid(head + std::string(kMaxV1 - head.size() - 1, 'x') + "\r");
}

// ---- v2 encoding and round trips ----------------------------------------------

TEST(ProxyProtocolV2Test, EncodesIpv4ByteExact) {
  // 192.0.2.1:56324 -> 198.51.100.7:443, PROXY command, TCP over IPv4.
  const std::string expected = kSignature + bytes({0x21, 0x11, 0x00, 0x0c,    // ver/cmd fam len
                                                   0xc0, 0x00, 0x02, 0x01,    // src
                                                   0xc6, 0x33, 0x64, 0x07,    // dst
                                                   0xdc, 0x04, 0x01, 0xbb});  // ports
  EXPECT_EQ(v2(tcp("192.0.2.1", 56324, "198.51.100.7", 443)), expected);
}

TEST(ProxyProtocolV2Test, EncodesIpv6ByteExact) {
  std::string expected = kSignature + bytes({0x21, 0x21, 0x00, 0x24});
  expected += bytes({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01});
  expected += bytes({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02});
  expected += bytes({0x30, 0x39, 0x00, 0x19});
  EXPECT_EQ(v2(tcp("2001:db8::1", 12345, "2001:db8::2", 25)), expected);
}

TEST(ProxyProtocolV2Test, EncodesLocal) {
  EXPECT_EQ(v2(local()), kSignature + bytes({0x20, 0x00, 0x00, 0x00}));
}

TEST(ProxyProtocolV2Test, RoundTrips) {
  for (const ProxyAddresses& addresses :
       {tcp("192.0.2.1", 56324, "198.51.100.7", 443), tcp("0.0.0.0", 0, "255.255.255.255", 65535),
        tcp("2001:db8::1", 1234, "2001:db8::2", 25),
        tcp("::ffff:10.0.0.1", 1, "::ffff:10.0.0.2", 2), local()}) {
    const std::string header = v2(addresses);
    expect_done(header, header.size(), addresses);
  }
}

TEST(ProxyProtocolV2Test, ReconcilesMixedFamilies) {
  expect_done(v2(tcp("::ffff:192.0.2.1", 1, "198.51.100.7", 2)), 28,
              tcp("192.0.2.1", 1, "198.51.100.7", 2));
  expect_done(v2(tcp("192.0.2.1", 1, "2001:db8::7", 2)), 52,
              tcp("::ffff:192.0.2.1", 1, "2001:db8::7", 2));
  expect_done(v2(tcp("2001:db8::7", 1, "192.0.2.1", 2)), 52,
              tcp("2001:db8::7", 1, "::ffff:192.0.2.1", 2));
}

TEST(ProxyProtocolV2Test, EncoderRefusesASmallBuffer) {
  std::array<char, 27> small{};
  EXPECT_EQ(encode_v2(tcp("192.0.2.1", 1, "192.0.2.2", 2), small), 0u);
  std::array<char, 28> exact{};
  EXPECT_EQ(encode_v2(tcp("192.0.2.1", 1, "192.0.2.2", 2), exact), 28u);
}

// ---- v2 decoding ----------------------------------------------------------------

const std::string kInetBody = bytes({10, 0, 0, 1, 10, 0, 0, 2, 0x04, 0x00, 0x00, 0x19});

TEST(ProxyProtocolV2Test, SkipsTlvs) {
  // PP2_TYPE_ALPN "h2" and PP2_TYPE_AUTHORITY "example.com", then a NOOP.
  const std::string tlvs = bytes({0x01, 0x00, 0x02}) + "h2" + bytes({0x02, 0x00, 0x0b}) +
                           "example.com" + bytes({0x04, 0x00, 0x00});
  const std::string header = v2_raw(0x21, 0x11, kInetBody + tlvs);
  expect_done(header + "payload", header.size(), tcp("10.0.0.1", 1024, "10.0.0.2", 25));
}

TEST(ProxyProtocolV2Test, LeavesPayloadUnconsumed) {
  const std::string header = v2(tcp("192.0.2.1", 1, "192.0.2.2", 2));
  const std::string payload("\x16\x03\x01\x00\x05hello", 10);
  expect_done(header + payload, header.size(), tcp("192.0.2.1", 1, "192.0.2.2", 2));
}

TEST(ProxyProtocolV2Test, AcceptsTlvsUpToTheCap) {
  // 4096 bytes of TLVs (NOOPs, type 0x04) after the addresses: the most taken.
  std::string tlvs;
  while (tlvs.size() < kMaxV2Tlvs) {
    const std::size_t value = std::min<std::size_t>(kMaxV2Tlvs - tlvs.size() - 3, 1000);
    tlvs += bytes({0x04, static_cast<int>(value >> 8), static_cast<int>(value & 0xff)}) +
            std::string(value, '\0');
  }
  ASSERT_EQ(tlvs.size(), kMaxV2Tlvs);
  const std::string header = v2_raw(0x21, 0x11, kInetBody + tlvs);
  expect_need_more(header.substr(0, header.size() - 1));
  expect_done(header + "x", header.size(), tcp("10.0.0.1", 1024, "10.0.0.2", 25));
  // Without usable addresses, the largest address block is allowed for.
  const std::string unspec(kMaxV2Received - 16, '\0');
  expect_done(v2_raw(0x21, 0x00, unspec), kMaxV2Received, local());
  expect_done(v2_raw(0x20, 0x00, unspec), kMaxV2Received, local());
  expect_done(v2_raw(0x21, 0x31, unspec), kMaxV2Received, local());
}

TEST(ProxyProtocolV2Test, RefusesTlvsOverTheCapFromTheLengthField) {
  // A header announcing 60 KiB of TLVs is refused on its 16 fixed bytes,
  // before a byte of the body is read; one byte over the cap is enough.
  for (const auto& [fam, body] :
       std::vector<std::pair<int, std::size_t>>{{0x11, 12 + 60 * 1024},
                                                {0x11, 12 + kMaxV2Tlvs + 1},
                                                {0x21, 36 + kMaxV2Tlvs + 1},
                                                {0x00, 216 + kMaxV2Tlvs + 1},
                                                {0x31, 216 + kMaxV2Tlvs + 1},
                                                {0x11, 65535}}) {
    const std::string header =
        v2_raw(0x21, static_cast<std::uint8_t>(fam), std::string(body, '\0'));
    const ParseResult result = parse(header.substr(0, 16));
    EXPECT_EQ(result.status, ParseStatus::invalid) << fam << " " << body;
    EXPECT_EQ(result.error, "v2 TLVs are longer than 4096 bytes");
    expect_invalid(header);
  }
  expect_invalid(v2_raw(0x20, 0x11, std::string(kMaxV2Received - 15, '\0')));  // LOCAL too
}

TEST(ProxyProtocolV2Test, AcceptsDatagramTransport) {
  expect_done(v2_raw(0x21, 0x12, kInetBody), 28, tcp("10.0.0.1", 1024, "10.0.0.2", 25));
}

TEST(ProxyProtocolV2Test, LocalCommandIgnoresTheAddressBlock) {
  expect_done(v2_raw(0x20, 0x11, kInetBody), 28, local());
  // The spec says the family is ignored for LOCAL, whatever its value.
  expect_done(v2_raw(0x20, 0xff, ""), 16, local());
}

TEST(ProxyProtocolV2Test, UnspecAndUnixAreLocal) {
  expect_done(v2_raw(0x21, 0x00, ""), 16, local());
  expect_done(v2_raw(0x21, 0x00, "ignored"), 23, local());
  expect_done(v2_raw(0x21, 0x10, ""), 16, local());  // AF_INET, UNSPEC transport
  expect_done(v2_raw(0x21, 0x31, std::string(216, 'p')), 232, local());
  expect_done(v2_raw(0x21, 0x32, std::string(216, 'p')), 232, local());
}

TEST(ProxyProtocolV2Test, RejectsShortAddressBlocks) {
  // Refused as soon as the length field is known, before the body arrives.
  for (const auto& [fam, needed] : std::vector<std::pair<int, std::size_t>>{
           {0x11, 12}, {0x12, 12}, {0x21, 36}, {0x22, 36}, {0x31, 216}, {0x32, 216}}) {
    const std::string header =
        v2_raw(0x21, static_cast<std::uint8_t>(fam), std::string(needed - 1, '\0'));
    expect_invalid(header);
    expect_invalid(header.substr(0, 16));
  }
}

TEST(ProxyProtocolV2Test, RejectsBadVersionsAndCommands) {
  for (int ver_cmd : {0x01, 0x11, 0x31, 0xf1, 0x22, 0x2f, 0x23}) {
    const std::string header = v2_raw(static_cast<std::uint8_t>(ver_cmd), 0x11, kInetBody);
    expect_invalid(header);
    expect_invalid(header.substr(0, 13));  // refused on the byte itself
  }
}

TEST(ProxyProtocolV2Test, RejectsUnknownFamiliesAndTransports) {
  for (int fam : {0x41, 0xf1, 0x13, 0x1f, 0x03}) {
    const std::string header = v2_raw(0x21, static_cast<std::uint8_t>(fam), kInetBody);
    expect_invalid(header);
    expect_invalid(header.substr(0, 14));
  }
}

TEST(ProxyProtocolV2Test, RejectsABrokenSignature) {
  for (std::size_t i = 0; i < kSignature.size(); ++i) {
    std::string header = v2(tcp("192.0.2.1", 1, "192.0.2.2", 2));
    header[i] = static_cast<char>(header[i] ^ 0x20);
    expect_invalid(header);
    expect_invalid(header.substr(0, i + 1));
  }
}

// ---- detection, prefixes, garbage ---------------------------------------------

std::vector<std::string> valid_headers() {
  return {
      v1(tcp("192.0.2.1", 56324, "198.51.100.7", 443)),
      v1(tcp("2001:db8::1", 1234, "2001:db8::2", 25)),
      v1(local()),
      "PROXY UNKNOWN " + std::string(kMaxV1 - 16, 'x') + "\r\n",
      v2(tcp("192.0.2.1", 56324, "198.51.100.7", 443)),
      v2(tcp("2001:db8::1", 1234, "2001:db8::2", 25)),
      v2(local()),
      v2_raw(0x21, 0x11, kInetBody + bytes({0x04, 0x00, 0x03, 1, 2, 3})),
      v2_raw(0x21, 0x31, std::string(216, 'u')),
  };
}

TEST(ProxyProtocolTest, EveryPrefixOfAValidHeaderNeedsMore) {
  for (const std::string& header : valid_headers()) {
    for (std::size_t n = 0; n < header.size(); ++n) {
      const ParseResult result = parse_proxy_header(std::span(header.data(), n));
      ASSERT_EQ(result.status, ParseStatus::need_more)
          << testing::PrintToString(header) << " prefix " << n << ": " << result.error;
      EXPECT_EQ(result.consumed, 0u);
    }
    const ParseResult full = parse(header);
    EXPECT_EQ(full.status, ParseStatus::done) << testing::PrintToString(header);
    EXPECT_EQ(full.consumed, header.size());
  }
}

TEST(ProxyProtocolTest, RejectsOtherProtocolsAtOnce) {
  const std::string tls_hello("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11);
  for (const std::string& data :
       {"GET / HTTP/1.1\r\n"s, "EHLO x\r\n"s, "HELO x\r\n"s, "INVITE sip:x SIP/2.0\r\n"s,
        "SSH-2.0-OpenSSH_9.2\r\n"s, tls_hello, "\n"s, " "s}) {
    expect_invalid(data);
    // Deciding needs at most the bytes up to the first mismatch with a
    // signature; for these that is the very first byte.
    expect_invalid(data.substr(0, 1));
  }
  // "POST" and "PUT" share "P" with v1, and are refused on the second byte.
  expect_need_more("P");
  expect_invalid("PO");
  expect_invalid("PUT / HTTP/1.1\r\n");
  // The HTTP/2 preface shares "PR" and is refused on the third byte.
  expect_need_more("PR");
  expect_invalid("PRI");
  expect_invalid("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
  expect_invalid("PROXY\r\n");
  expect_invalid("PROXYTCP4 1.2.3.4 5.6.7.8 1 2\r\n");
  // A telnet user pressing Enter: CR LF then typing.
  expect_invalid("\r\nhello");
}

TEST(ProxyProtocolTest, EmptyInputNeedsMore) {
  expect_need_more("");
}

TEST(ProxyProtocolTest, TruncatedHeadersNeedMore) {
  expect_need_more("PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r");
  expect_need_more("PROXY TCP4 192.0.2.1 198.51.100.7 56324 443");
  const std::string header = v2(tcp("2001:db8::1", 1, "2001:db8::2", 2));
  expect_need_more(header.substr(0, 16));
  expect_need_more(header.substr(0, header.size() - 1));
}

TEST(ProxyProtocolTest, RandomBytesAreNeverAccepted) {
  std::mt19937 rng(12345);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<std::size_t> length(1, 300);
  for (int round = 0; round < 5000; ++round) {
    std::string data(length(rng), '\0');
    for (char& c : data) c = static_cast<char>(byte(rng));
    const ParseResult result = parse(data);
    EXPECT_NE(result.status, ParseStatus::done) << testing::PrintToString(data);
    if (data[0] != 'P' && data[0] != '\r') {
      EXPECT_EQ(result.status, ParseStatus::invalid);
    }
  }
}

TEST(ProxyProtocolTest, RandomHeadersRoundTripThroughBothVersions) {
  std::mt19937 rng(777);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<int> port(0, 65535);
  for (int round = 0; round < 2000; ++round) {
    ProxyAddresses addresses;
    addresses.src.v6 = addresses.dst.v6 = round % 2 == 1;
    const std::size_t size = addresses.src.v6 ? 16 : 4;
    for (std::size_t i = 0; i < size; ++i) {
      addresses.src.bytes[i] = static_cast<std::uint8_t>(byte(rng));
      addresses.dst.bytes[i] = static_cast<std::uint8_t>(byte(rng));
    }
    addresses.src_port = static_cast<std::uint16_t>(port(rng));
    addresses.dst_port = static_cast<std::uint16_t>(port(rng));
    const std::string a = v1(addresses);
    expect_done(a, a.size(), addresses);
    const std::string b = v2(addresses);
    expect_done(b, b.size(), addresses);
  }
}

}  // namespace
}  // namespace sb::net
