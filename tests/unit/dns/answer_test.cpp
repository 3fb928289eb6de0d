// Answers from pool snapshots: health filtering, rotation, caps, MX/SRV
// fields and glue, REFUSED and NODATA, when-all-down.
#include "dns/answer.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

namespace sb::dns {
namespace {

using Bytes = std::vector<std::uint8_t>;

Bytes query(std::string_view name, std::uint16_t type) {
  Bytes b = {0xab, 0xcd, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
  std::size_t start = 0;
  while (start < name.size()) {
    const auto dot = std::min(name.find('.', start), name.size());
    b.push_back(static_cast<std::uint8_t>(dot - start));
    b.insert(b.end(), name.begin() + static_cast<long>(start),
             name.begin() + static_cast<long>(dot));
    start = dot + 1;
  }
  b.insert(b.end(),
           {0, static_cast<std::uint8_t>(type >> 8), static_cast<std::uint8_t>(type), 0, 1});
  return b;
}

balancer::ServerView server(std::string name, std::uint8_t last, int priority = 0, bool up = true) {
  balancer::ServerView s;
  s.name = std::move(name);
  s.ip.bytes = {10, 0, 0, last};
  s.port = 25;
  s.priority = priority;
  s.health = up ? balancer::Health::up : balancer::Health::down;
  s.stats = std::make_shared<balancer::ServerStats>();
  return s;
}

struct Decoded {
  int rcode = -1;
  bool aa = false, tc = false;
  int answers = 0, additional = 0;
  std::vector<std::string> first_fields;  // per answer: IP for A, "pref name" for MX
};

std::uint16_t r16(const Bytes& b, std::size_t at) {
  return static_cast<std::uint16_t>(b[at] << 8 | b[at + 1]);
}

// Reads a name (with pointers) at `at`.
std::string name_at(const Bytes& b, std::size_t at) {
  std::string out;
  for (int hops = 0; hops < 20;) {
    const std::uint8_t len = b[at];
    if ((len & 0xC0) == 0xC0) {
      at = static_cast<std::size_t>((len & 0x3F) << 8 | b[at + 1]);
      ++hops;
      continue;
    }
    if (len == 0) break;
    if (!out.empty()) out += '.';
    out.append(reinterpret_cast<const char*>(&b[at + 1]), len);
    at += 1 + len;
  }
  return out;
}

std::size_t skip_name(const Bytes& b, std::size_t at) {
  while (b[at] != 0 && (b[at] & 0xC0) != 0xC0) at += 1 + b[at];
  return at + ((b[at] & 0xC0) == 0xC0 ? 2 : 1);
}

Decoded decode(const Bytes& b) {
  Decoded d;
  d.rcode = b[3] & 0x0F;
  d.aa = (b[2] & 0x04) != 0;
  d.tc = (b[2] & 0x02) != 0;
  d.answers = r16(b, 6);
  d.additional = r16(b, 10);
  std::size_t at = 12;
  if (r16(b, 4) == 1) at = skip_name(b, at) + 4;
  for (int i = 0; i < d.answers; ++i) {
    at = skip_name(b, at);
    const std::uint16_t type = r16(b, at);
    const std::uint16_t rdlen = r16(b, at + 8);
    const std::size_t rd = at + 10;
    if (type == 1) {
      d.first_fields.push_back(std::to_string(b[rd + 3]));
    } else if (type == 15) {
      d.first_fields.push_back(std::to_string(r16(b, rd)) + " " + name_at(b, rd + 2));
    } else if (type == 33) {
      d.first_fields.push_back(std::to_string(r16(b, rd)) + " " + std::to_string(r16(b, rd + 2)) +
                               " " + std::to_string(r16(b, rd + 4)) + " " + name_at(b, rd + 6));
    }
    at = rd + rdlen;
  }
  return d;
}

class AnswerTest : public ::testing::Test {
 protected:
  AnswerTest() {
    pool_.servers = {server("mx1.example.test", 1), server("mx2.example.test", 2),
                     server("mx3.example.test", 3, 1)};
  }
  Decoded ask(Answerer& a, std::string_view name, std::uint16_t type, bool tcp = false) {
    const Bytes q = query(name, type);
    Bytes out(tcp ? 65535 : 1232);
    const auto r = a.answer(q, out, tcp, [&](std::size_t) { return &pool_; });
    last_ = r;
    out.resize(r.size);
    return decode(out);
  }
  balancer::PoolSnapshot pool_;
  AnswerResult last_;
};

TEST_F(AnswerTest, RotationPutsEachServerFirstEqually) {
  Answerer a({{"mail.example.test", RecordKind::a, 30, 10, 0}}, {});
  std::map<std::string, int> first;
  for (int i = 0; i < 30; ++i) {
    const auto d = ask(a, "mail.example.test", wire::kTypeA);
    ASSERT_EQ(d.answers, 3);
    EXPECT_TRUE(d.aa);
    ++first[d.first_fields[0]];
  }
  EXPECT_EQ(first, (std::map<std::string, int>{{"1", 10}, {"2", 10}, {"3", 10}}));
}

TEST_F(AnswerTest, AnyGetsOneRecordOfOneRRset) {
  // RFC 8482: not every record of the name (three A and three MX here).
  Answerer a(
      {{"example.test", RecordKind::a, 30, 10, 0}, {"example.test", RecordKind::mx, 60, 10, 0}},
      {});
  const auto d = ask(a, "example.test", wire::kTypeAny);
  EXPECT_EQ(d.rcode, 0);
  EXPECT_EQ(d.answers, 1);
  EXPECT_EQ(d.additional, 0);  // an A record has no glue
  EXPECT_EQ(last_.qtype, wire::kTypeAny);
  // The other types are answered in full as before.
  EXPECT_EQ(ask(a, "example.test", wire::kTypeMx).answers, 3);
}

TEST_F(AnswerTest, DownAndDrainedServersLeaveTheAnswer) {
  Answerer a({{"mail.example.test", RecordKind::a, 30, 10, 0}}, {});
  pool_.servers[1].health = balancer::Health::down;
  pool_.servers[2].admin = balancer::AdminState::drain;
  const auto d = ask(a, "Mail.Example.Test", wire::kTypeA);
  EXPECT_EQ(d.first_fields, std::vector<std::string>{"1"});
}

TEST_F(AnswerTest, WhenAllDownAllAnswersEveryServerAndNoneAnswersNothing) {
  for (auto& s : pool_.servers) s.health = balancer::Health::down;
  Answerer all({{"mail.example.test", RecordKind::a, 30, 10, 0}}, {});
  EXPECT_EQ(ask(all, "mail.example.test", wire::kTypeA).answers, 3);
  EXPECT_TRUE(last_.all_down);
  AnswerOptions none_opt;
  none_opt.all_when_down = false;
  Answerer none({{"mail.example.test", RecordKind::a, 30, 10, 0}}, none_opt);
  const auto d = ask(none, "mail.example.test", wire::kTypeA);
  EXPECT_EQ(std::pair(d.rcode, d.answers), std::pair(0, 0));
  EXPECT_TRUE(last_.all_down);
}

TEST_F(AnswerTest, MxPreferencePlusTenPerTierWithGlue) {
  Answerer a({{"example.test", RecordKind::mx, 60, 10, 0}}, {});
  const auto d = ask(a, "example.test", wire::kTypeMx);
  ASSERT_EQ(d.answers, 3);
  EXPECT_EQ(d.additional, 3);
  EXPECT_EQ(d.first_fields[0], "10 mx1.example.test");
  EXPECT_EQ(d.first_fields[2], "20 mx3.example.test");
}

TEST_F(AnswerTest, SrvFields) {
  pool_.servers[0].weight = 5;
  pool_.servers[0].port = 5061;
  AnswerOptions o;
  o.rotate = false;
  Answerer a({{"_sip._tcp.um.example.test", RecordKind::srv, 30, 10, 0}}, o);
  const auto d = ask(a, "_sip._tcp.um.example.test", wire::kTypeSrv);
  ASSERT_EQ(d.answers, 3);
  EXPECT_EQ(d.first_fields[0], "0 5 5061 mx1.example.test");
  EXPECT_EQ(d.first_fields[2], "1 1 25 mx3.example.test");
}

TEST_F(AnswerTest, RefusedForOtherNamesNodataForOtherTypes) {
  Answerer a({{"mail.example.test", RecordKind::a, 30, 10, 0}}, {});
  EXPECT_EQ(ask(a, "other.example.test", wire::kTypeA).rcode, 5);
  const auto nodata = ask(a, "mail.example.test", wire::kTypeMx);
  EXPECT_EQ(std::pair(nodata.rcode, nodata.answers), std::pair(0, 0));
  EXPECT_TRUE(nodata.aa);
}

TEST_F(AnswerTest, MaxAnswersCapsAndManyRecordsTruncateOverPlainUdp) {
  for (std::uint8_t i = 4; i < 60; ++i) {
    pool_.servers.push_back(server("s" + std::to_string(i) + ".example.test", i));
  }
  AnswerOptions capped;
  capped.max_answers = 4;
  Answerer a({{"mail.example.test", RecordKind::a, 30, 10, 0}}, capped);
  EXPECT_EQ(ask(a, "mail.example.test", wire::kTypeA).answers, 4);
  AnswerOptions wide;
  wide.max_answers = 64;
  Answerer mx({{"example.test", RecordKind::mx, 30, 10, 0}}, wide);
  // Without EDNS, 512 bytes: TC and no answers; over TCP all of them.
  const Bytes q = query("example.test", wire::kTypeMx);
  Bytes out(1232);
  const auto udp = mx.answer(q, out, false, [&](std::size_t) { return &pool_; });
  EXPECT_TRUE(udp.truncated);
  EXPECT_LE(udp.size, 512u);
  EXPECT_EQ(ask(mx, "example.test", wire::kTypeMx, true).answers, 59);
}

TEST_F(AnswerTest, MalformedQueriesGetFormerrOrNothing) {
  Answerer a({{"mail.example.test", RecordKind::a, 30, 10, 0}}, {});
  Bytes out(512);
  const auto snap = [&](std::size_t) { return &pool_; };
  EXPECT_EQ(a.answer(Bytes{1, 2, 3}, out, false, snap).size, 0u);
  Bytes two = query("mail.example.test", wire::kTypeA);
  two[5] = 2;
  const auto r = a.answer(two, out, false, snap);
  EXPECT_EQ(r.rcode, wire::Rcode::formerr);
  EXPECT_EQ(r.size, wire::kHeaderSize);
}

}  // namespace
}  // namespace sb::dns
