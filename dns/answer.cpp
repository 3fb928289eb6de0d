#include "dns/answer.h"

#include <algorithm>
#include <cstring>

namespace sb::dns {
namespace {

bool family_fits(RecordKind kind, const balancer::ServerView& s) {
  if (kind == RecordKind::a) return !s.ip.v6;
  if (kind == RecordKind::aaaa) return s.ip.v6;
  return true;  // MX and SRV carry glue of either family
}

bool kind_matches(RecordKind kind, std::uint16_t qtype) {
  switch (kind) {
    case RecordKind::a:
      return qtype == wire::kTypeA;
    case RecordKind::aaaa:
      return qtype == wire::kTypeAaaa;
    case RecordKind::mx:
      return qtype == wire::kTypeMx;
    case RecordKind::srv:
      return qtype == wire::kTypeSrv;
  }
  return false;
}

}  // namespace

Answerer::Answerer(std::vector<RecordSpec> records, AnswerOptions options)
    : records_(std::move(records)), options_(options), turns_(records_.size(), 0) {}

std::size_t Answerer::choose(std::size_t r, const balancer::PoolSnapshot& snap, bool& all_down,
                             std::size_t max_answers) {
  const RecordSpec& rec = records_[r];
  chosen_.clear();
  const auto order_of = [&](const balancer::ServerView& s) {
    const int tier = std::max(0, s.priority);
    const int v = rec.kind == RecordKind::mx ? rec.preference + 10 * tier : tier;
    return static_cast<std::uint16_t>(std::min(v, 65535));
  };
  for (const auto& s : snap.servers) {
    if (s.eligible() && family_fits(rec.kind, s)) chosen_.push_back({&s, order_of(s)});
  }
  if (chosen_.empty()) {
    all_down = true;
    if (!options_.all_when_down) return 0;
    // Traffic somewhere beats traffic nowhere: every server not disabled.
    for (const auto& s : snap.servers) {
      if (s.admin != balancer::AdminState::disabled && family_fits(rec.kind, s)) {
        chosen_.push_back({&s, order_of(s)});
      }
    }
    if (chosen_.empty()) return 0;
  }
  const std::size_t n = chosen_.size();
  if (options_.rotate && n > 1) {
    const std::size_t start = static_cast<std::size_t>(turns_[r] % n);
    std::rotate(chosen_.begin(), chosen_.begin() + static_cast<long>(start), chosen_.end());
  }
  ++turns_[r];
  if (chosen_.size() > max_answers) chosen_.resize(max_answers);
  return chosen_.size();
}

void Answerer::write_record(wire::ResponseWriter& w, std::size_t r) {
  const RecordSpec& rec = records_[r];
  for (std::size_t i = 0; i < chosen_.size(); ++i) {
    const balancer::ServerView& s = *chosen_[i].server;
    switch (rec.kind) {
      case RecordKind::a: {
        std::uint8_t ip[4];
        std::memcpy(ip, s.ip.bytes.data(), 4);
        w.add_a(rec.ttl, ip);
        break;
      }
      case RecordKind::aaaa: {
        std::uint8_t ip[16];
        std::memcpy(ip, s.ip.bytes.data(), 16);
        w.add_aaaa(rec.ttl, ip);
        break;
      }
      case RecordKind::mx:
        glue_.push_back({&s, w.add_mx(rec.ttl, chosen_[i].order, s.name), rec.ttl});
        break;
      case RecordKind::srv:
        glue_.push_back(
            {&s,
             w.add_srv(rec.ttl, chosen_[i].order,
                       static_cast<std::uint16_t>(std::clamp(s.weight, 0, 65535)), s.port, s.name),
             rec.ttl});
        break;
    }
  }
}

AnswerResult Answerer::answer(std::span<const std::uint8_t> packet, std::span<std::uint8_t> out,
                              bool tcp, const SnapshotOf& snapshot_of) {
  AnswerResult res;
  wire::Query q;
  const wire::ParseStatus status = wire::parse_query(packet, q);
  res.qtype = status == wire::ParseStatus::ok ? q.qtype : 0;
  if (status == wire::ParseStatus::drop) return res;
  const std::size_t limit = tcp      ? out.size()
                            : q.edns ? std::min<std::size_t>(q.edns_udp_size, wire::kEdnsUdpLimit)
                                     : wire::kPlainUdpLimit;
  wire::ResponseWriter w(out, limit);
  const auto finish_with = [&](wire::Rcode rcode, bool with_question) {
    w.begin(q, rcode, rcode != wire::Rcode::formerr, with_question);
    res.rcode = rcode;
    res.size = w.finish(q);
    return res;
  };
  switch (status) {
    case wire::ParseStatus::formerr:
      q.edns = false;  // not read reliably: answer plainly
      return finish_with(wire::Rcode::formerr, false);
    case wire::ParseStatus::notimp:
      q.edns = false;
      return finish_with(wire::Rcode::notimp, false);
    case wire::ParseStatus::badvers:
      return finish_with(wire::Rcode::badvers, true);
    default:
      break;
  }

  // Which configured records own this name.
  bool name_known = false;
  for (const auto& rec : records_) name_known |= rec.name == q.name();
  if (!name_known || q.qclass != wire::kClassIn) return finish_with(wire::Rcode::refused, true);

  w.begin(q, wire::Rcode::noerror, true, true);
  res.rcode = wire::Rcode::noerror;
  // Answers first, then the glue of every MX/SRV target in the additional
  // section (a message's sections are in order).
  glue_.clear();
  // ANY gets the minimal answer of RFC 8482 (section 4.2): one record of the
  // name's first RRset, not every record it has (a reflection amplifier).
  const bool any = q.qtype == wire::kTypeAny;
  for (std::size_t r = 0; r < records_.size(); ++r) {
    const RecordSpec& rec = records_[r];
    if (rec.name != q.name()) continue;
    if (!(kind_matches(rec.kind, q.qtype) || any)) continue;
    const balancer::PoolSnapshot* snap = snapshot_of(rec.pool);
    if (!snap) continue;
    bool down = false;
    const std::size_t n = choose(r, *snap, down, any ? 1 : options_.max_answers);
    res.all_down |= down;
    if (n > 0) write_record(w, r);
    if (any && n > 0) break;
  }
  for (const Glue& g : glue_) {
    if (g.name_offset == 0) continue;  // its record did not fit (TC)
    if (g.server->ip.v6) {
      std::uint8_t ip[16];
      std::memcpy(ip, g.server->ip.bytes.data(), 16);
      w.add_glue_aaaa(g.name_offset, g.ttl, ip);
    } else {
      std::uint8_t ip[4];
      std::memcpy(ip, g.server->ip.bytes.data(), 4);
      w.add_glue_a(g.name_offset, g.ttl, ip);
    }
  }
  res.size = w.finish(q);
  res.truncated = w.truncated();
  return res;
}

}  // namespace sb::dns
