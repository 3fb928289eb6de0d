// The responder's wire format: strict query parsing (every kind of bad
// input is dropped or FORMERR, never read out of bounds) and responses that
// a resolver reads back (checked with our own c-ares-independent decoding).
#include "dns/wire.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <utility>
#include <vector>

namespace sb::dns::wire {
namespace {

using Bytes = std::vector<std::uint8_t>;

void put_name(Bytes& b, std::string_view dotted) {
  std::size_t start = 0;
  while (start < dotted.size()) {
    const auto dot = std::min(dotted.find('.', start), dotted.size());
    b.push_back(static_cast<std::uint8_t>(dot - start));
    b.insert(b.end(), dotted.begin() + static_cast<long>(start),
             dotted.begin() + static_cast<long>(dot));
    start = dot + 1;
  }
  b.push_back(0);
}

Bytes query(std::string_view name, std::uint16_t type, bool edns = false, std::uint16_t udp = 1232,
            std::uint8_t version = 0) {
  Bytes b = {0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, static_cast<std::uint8_t>(edns)};
  put_name(b, name);
  b.insert(b.end(), {static_cast<std::uint8_t>(type >> 8), static_cast<std::uint8_t>(type), 0, 1});
  if (edns) {
    b.insert(b.end(), {0, 0, 41, static_cast<std::uint8_t>(udp >> 8),
                       static_cast<std::uint8_t>(udp), 0, version, 0x80, 0, 0, 0});
  }
  return b;
}

ParseStatus parse(const Bytes& b, Query& q) {
  return parse_query(std::span<const std::uint8_t>(b.data(), b.size()), q);
}

TEST(DnsWire, ParsesAQueryAndLowersTheNameButKeepsTheWireCase) {
  Query q;
  ASSERT_EQ(parse(query("Mail.Example.COM", kTypeA), q), ParseStatus::ok);
  EXPECT_EQ(q.id, 0x1234);
  EXPECT_TRUE(q.rd);
  EXPECT_EQ(q.name(), "mail.example.com");
  EXPECT_EQ(q.qtype, kTypeA);
  EXPECT_FALSE(q.edns);
  EXPECT_EQ(q.wire_name[1], 'M');
  EXPECT_EQ(q.wire_name_len, 18u);
}

TEST(DnsWire, ReadsEdns) {
  Query q;
  ASSERT_EQ(parse(query("a.test", kTypeMx, true, 4096), q), ParseStatus::ok);
  EXPECT_TRUE(q.edns);
  EXPECT_EQ(q.edns_udp_size, 4096);
  EXPECT_TRUE(q.dnssec_ok);
  ASSERT_EQ(parse(query("a.test", kTypeMx, true, 100), q), ParseStatus::ok);
  EXPECT_EQ(q.edns_udp_size, 512);  // below 512 counts as 512
  EXPECT_EQ(parse(query("a.test", kTypeMx, true, 1232, 1), q), ParseStatus::badvers);
}

TEST(DnsWire, DropsWhatIsNoQuery) {
  Query q;
  EXPECT_EQ(parse(Bytes{1, 2, 3}, q), ParseStatus::drop);
  auto response = query("a.test", kTypeA);
  response[2] |= 0x80;
  EXPECT_EQ(parse(response, q), ParseStatus::drop);
}

TEST(DnsWire, FormerrForCountsOtherThanOneQuestion) {
  Query q;
  auto none = query("a.test", kTypeA);
  none[5] = 0;
  EXPECT_EQ(parse(none, q), ParseStatus::formerr);
  auto two = query("a.test", kTypeA);
  two[5] = 2;
  EXPECT_EQ(parse(two, q), ParseStatus::formerr);
  auto answers = query("a.test", kTypeA);
  answers[7] = 1;
  EXPECT_EQ(parse(answers, q), ParseStatus::formerr);
}

TEST(DnsWire, NotimpForOtherOpcodes) {
  Query q;
  auto notify = query("a.test", kTypeA);
  notify[2] = 0x20;  // opcode 4
  EXPECT_EQ(parse(notify, q), ParseStatus::notimp);
  EXPECT_EQ(q.opcode, 4);
}

TEST(DnsWire, FormerrForBadNames) {
  Query q;
  // A label over 63 bytes.
  EXPECT_EQ(parse(query(std::string(64, 'a') + ".test", kTypeA), q), ParseStatus::formerr);
  EXPECT_EQ(parse(query(std::string(63, 'a') + ".test", kTypeA), q), ParseStatus::ok);
  // A name over 255 bytes: four 63-byte labels (4 x 64 + 1 = 257).
  const std::string l(63, 'b');
  EXPECT_EQ(parse(query(l + "." + l + "." + l + "." + l, kTypeA), q), ParseStatus::formerr);
  // Truncated inside the name, and before the type.
  auto cut = query("abc.test", kTypeA);
  cut.resize(15);
  EXPECT_EQ(parse(cut, q), ParseStatus::formerr);
  auto no_type = query("abc.test", kTypeA);
  no_type.resize(no_type.size() - 3);
  EXPECT_EQ(parse(no_type, q), ParseStatus::formerr);
  // 0x40 and 0x80 label types.
  auto ext = query("abc.test", kTypeA);
  ext[12] = 0x41;
  EXPECT_EQ(parse(ext, q), ParseStatus::formerr);
  // Trailing bytes.
  auto trailing = query("abc.test", kTypeA);
  trailing.push_back(0);
  EXPECT_EQ(parse(trailing, q), ParseStatus::formerr);
}

TEST(DnsWire, CompressionPointersMustPointBackwards) {
  Query q;
  // The question name is a pointer to itself: a loop.
  Bytes self = {0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 12, 0, 1, 0, 1};
  EXPECT_EQ(parse(self, q), ParseStatus::formerr);
  // Forward, past the end.
  Bytes forward = {0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 40, 0, 1, 0, 1};
  EXPECT_EQ(parse(forward, q), ParseStatus::formerr);
  // Into the header.
  Bytes header = {0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 2, 0, 1, 0, 1};
  EXPECT_EQ(parse(header, q), ParseStatus::formerr);
  // A pointer alone at the end.
  Bytes half = {0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0};
  EXPECT_EQ(parse(half, q), ParseStatus::formerr);
}

TEST(DnsWire, RandomBytesNeverCrash) {
  std::mt19937 rng(7);
  Query q;
  int answered = 0;
  for (int i = 0; i < 200000; ++i) {
    Bytes b(rng() % 64);
    for (auto& c : b) c = static_cast<std::uint8_t>(rng());
    if (b.size() > 5) {  // often a plausible header: one question
      b[2] &= 0x7F;
      b[4] = 0;
      b[5] = 1;
    }
    if (parse(b, q) == ParseStatus::ok) {
      ++answered;
      EXPECT_LE(q.wire_name_len, kMaxName);
    }
  }
  EXPECT_GE(answered, 0);
}

std::uint16_t r16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>(p[0] << 8 | p[1]);
}

TEST(DnsWire, WritesAnAuthoritativeAnswerWithGlueAndOpt) {
  Query q;
  ASSERT_EQ(parse(query("example.test", kTypeMx, true), q), ParseStatus::ok);
  std::array<std::uint8_t, 1232> buf{};
  ResponseWriter w(buf, 1232);
  w.begin(q, Rcode::noerror, true, true);
  const std::uint16_t at = w.add_mx(60, 10, "mx1.example.test");
  ASSERT_NE(at, 0);
  const std::uint8_t ip[4] = {127, 0, 0, 1};
  ASSERT_TRUE(w.add_glue_a(at, 60, ip));
  const std::size_t n = w.finish(q);
  ASSERT_GT(n, kHeaderSize);
  EXPECT_EQ(r16(&buf[0]), 0x1234);
  EXPECT_EQ(buf[2] & 0x84, 0x84);  // QR, AA
  EXPECT_EQ(buf[3] & 0x0F, 0);     // NOERROR
  EXPECT_EQ(r16(&buf[4]), 1);
  EXPECT_EQ(r16(&buf[6]), 1);
  EXPECT_EQ(r16(&buf[10]), 2);  // glue + OPT
  // The answer's owner points at the question name.
  const std::size_t answer = kHeaderSize + q.wire_name_len + 4;
  EXPECT_EQ(r16(&buf[answer]), 0xC000 | kHeaderSize);
  EXPECT_EQ(r16(&buf[answer + 2]), kTypeMx);
  // The OPT record ends the message.
  EXPECT_EQ(r16(&buf[n - 10]), kTypeOpt);
  EXPECT_EQ(r16(&buf[n - 8]), kEdnsUdpLimit);
}

TEST(DnsWire, TruncatesToTheQuestionWithTcWhenAnswersDoNotFit) {
  Query q;
  ASSERT_EQ(parse(query("many.test", kTypeAaaa), q), ParseStatus::ok);
  std::array<std::uint8_t, 512> buf{};
  ResponseWriter w(buf, 512);
  w.begin(q, Rcode::noerror, true, true);
  const std::uint8_t ip[16] = {0xfd};
  int added = 0;
  while (w.add_aaaa(30, ip)) ++added;
  EXPECT_GT(added, 10);
  const std::size_t n = w.finish(q);
  EXPECT_TRUE(w.truncated());
  EXPECT_EQ(buf[2] & 0x02, 0x02);
  EXPECT_EQ(r16(&buf[6]), 0);
  EXPECT_EQ(n, kHeaderSize + q.wire_name_len + 4);
}

TEST(DnsWire, BadversGoesInTheOptRecord) {
  Query q;
  ASSERT_EQ(parse(query("a.test", kTypeA, true, 1232, 2), q), ParseStatus::badvers);
  std::array<std::uint8_t, 512> buf{};
  ResponseWriter w(buf, 512);
  w.begin(q, Rcode::badvers, true, false);
  const std::size_t n = w.finish(q);
  EXPECT_EQ(buf[3] & 0x0F, 0);
  EXPECT_EQ(buf[n - 6], 1);  // extended rcode: 16 >> 4
}

// Reads the (possibly compressed) name at `at` of `msg` into dotted form,
// independently of the writer; "" when it is malformed.
std::string read_name(const std::vector<std::uint8_t>& msg, std::size_t at) {
  std::string name;
  for (int hops = 0; hops < 64 && at < msg.size();) {
    const std::uint8_t len = msg[at];
    if ((len & 0xC0) == 0xC0) {
      if (at + 1 >= msg.size()) return "";
      at = static_cast<std::size_t>((len & 0x3F) << 8 | msg[at + 1]);
      ++hops;
      continue;
    }
    if (len == 0) return name;
    if (at + 1 + len > msg.size()) return "";
    if (!name.empty()) name += '.';
    name.append(msg.begin() + static_cast<long>(at) + 1,
                msg.begin() + static_cast<long>(at) + 1 + len);
    at += 1 + len;
  }
  return "";
}

// The end of the name at `at` (after its final 0 or its first pointer).
std::size_t skip_name(const std::vector<std::uint8_t>& msg, std::size_t at) {
  while ((msg[at] & 0xC0) != 0xC0 && msg[at] != 0) at += 1 + msg[at];
  return at + ((msg[at] & 0xC0) == 0xC0 ? 2 : 1);
}

TEST(DnsWire, NamesBeyondTheReachOfAPointerAreWrittenInFull) {
  // A compression pointer holds 14 bits: glue for an MX target written
  // past offset 0x3FFF cannot point at it (RFC 1035 section 4.1.4).
  Query q;
  ASSERT_EQ(parse(query("example.test", kTypeMx), q), ParseStatus::ok);
  std::vector<std::uint8_t> buf(65535);
  ResponseWriter w(buf, buf.size());
  w.begin(q, Rcode::noerror, true, true);
  const std::string label(60, 'x');
  std::vector<std::pair<std::string, std::uint16_t>> targets;
  for (int i = 0; i < 90; ++i) {
    const std::string target =
        "mx" + std::to_string(i) + "." + label + "." + label + "." + label + ".example.test";
    const std::uint16_t at = w.add_mx(60, 10, target);
    ASSERT_NE(at, 0);
    targets.emplace_back(target, at);
  }
  ASSERT_GT(targets.back().second, 0x3FFF);
  for (std::size_t i = 0; i < targets.size(); ++i) {
    const std::uint8_t ip[4] = {192, 0, 2, static_cast<std::uint8_t>(i)};
    ASSERT_TRUE(w.add_glue_a(targets[i].second, 60, ip));
  }
  buf.resize(w.finish(q));
  ASSERT_FALSE(w.truncated());
  ASSERT_EQ(r16(&buf[10]), targets.size());
  // Walk to the additional section: past the question and the answers.
  std::size_t at = skip_name(buf, kHeaderSize) + 4;
  for (std::size_t i = 0; i < targets.size(); ++i) {
    at = skip_name(buf, at);
    at += 10 + r16(&buf[at + 8]);
  }
  for (std::size_t i = 0; i < targets.size(); ++i) {
    ASSERT_LT(at, buf.size());
    EXPECT_EQ(read_name(buf, at), targets[i].first) << "glue " << i;
    at = skip_name(buf, at);
    EXPECT_EQ(r16(&buf[at]), kTypeA);
    EXPECT_EQ(buf[at + 13], i) << "glue " << i;
    at += 10 + r16(&buf[at + 8]);
  }
  EXPECT_EQ(at, buf.size());
}

TEST(DnsWire, WireLengthOfNames) {
  EXPECT_EQ(wire_length("mx1.example.com"), 17u);
  EXPECT_EQ(wire_length(""), 1u);
  EXPECT_EQ(wire_length("a..b"), 0u);
  EXPECT_EQ(wire_length(std::string(64, 'a')), 0u);
}

}  // namespace
}  // namespace sb::dns::wire
