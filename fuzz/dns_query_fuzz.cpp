// libFuzzer target for the DNS responder's query parser and answer writer
// (dns/wire.h, dns/answer.h).
//
// Properties checked on every input, beyond "no crash, no sanitizer report":
//  1. parse_query's name is within RFC 1035's limits (wire form <= 255
//     bytes, its text form shorter) whenever it accepts a query.
//  2. The answer to any input fits the limit of its transport (512 bytes
//     without EDNS over UDP, 1232 with, 65535 over TCP), carries the query's
//     id, has QR set, and is either empty (dropped) or at least a header.
//  3. The answer's counts match what the writer reported.
// A violated property aborts, which libFuzzer reports as a crash with the input.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <span>
#include <vector>

#include "dns/answer.h"
#include "dns/wire.h"

namespace {

void check(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "property violated: %s\n", what);
    std::abort();
  }
}

sb::balancer::PoolSnapshot make_pool() {
  sb::balancer::PoolSnapshot p;
  for (int i = 0; i < 12; ++i) {
    sb::balancer::ServerView s;
    s.name = "mx" + std::to_string(i) + ".example.test";
    s.ip.bytes = {10, 0, 0, static_cast<std::uint8_t>(i)};
    s.ip.v6 = i % 4 == 3;
    s.priority = i % 3;
    s.health = i % 5 == 4 ? sb::balancer::Health::down : sb::balancer::Health::up;
    s.stats = std::make_shared<sb::balancer::ServerStats>();
    p.servers.push_back(std::move(s));
  }
  return p;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const sb::balancer::PoolSnapshot pool = make_pool();
  static sb::dns::Answerer answerer(
      {{"mail.example.test", sb::dns::RecordKind::a, 30, 10, 0},
       {"mail.example.test", sb::dns::RecordKind::aaaa, 30, 10, 0},
       {"example.test", sb::dns::RecordKind::mx, 60, 10, 0},
       {"_sip._tcp.example.test", sb::dns::RecordKind::srv, 30, 10, 0}},
      sb::dns::AnswerOptions{true, 64, true});
  const std::span<const std::uint8_t> in(data, size);

  sb::dns::wire::Query q;
  const auto status = sb::dns::wire::parse_query(in, q);
  if (status == sb::dns::wire::ParseStatus::ok) {
    check(q.wire_name_len >= 1 && q.wire_name_len <= sb::dns::wire::kMaxName, "name length");
    check(q.text_len < q.wire_name_len || q.text_len == 0, "text shorter than wire form");
  }

  for (const bool tcp : {false, true}) {
    std::vector<std::uint8_t> out(tcp ? 65535 : sb::dns::wire::kEdnsUdpLimit);
    const auto r = answerer.answer(in, out, tcp, [&](std::size_t) { return &pool; });
    if (status == sb::dns::wire::ParseStatus::drop) {
      check(r.size == 0, "a dropped packet gets no answer");
      continue;
    }
    check(r.size >= sb::dns::wire::kHeaderSize, "an answer has a header");
    check(r.size <= (tcp ? 65535 : sb::dns::wire::kEdnsUdpLimit), "the answer fits its transport");
    if (status == sb::dns::wire::ParseStatus::ok && !q.edns && !tcp) {
      check(r.size <= sb::dns::wire::kPlainUdpLimit, "512 bytes without EDNS");
    }
    check(out[0] == data[0] && out[1] == data[1], "the query's id");
    check((out[2] & 0x80) != 0, "QR set");
  }
  return 0;
}
