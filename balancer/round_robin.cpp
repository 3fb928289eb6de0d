#include "balancer/round_robin.h"

namespace sb::balancer {

RoundRobin::RoundRobin(std::shared_ptr<const PoolSnapshot> snapshot, std::uint64_t seed)
    : Balancer(std::move(snapshot)), tiers_(eligible_tiers(*snapshot_)) {
  // Start each worker at a different offset so that N workers that each see
  // one connection do not all send it to the first server.
  cursor_.reserve(tiers_.size());
  for (const Tier& t : tiers_) cursor_.push_back(seed % t.servers.size());
}

std::optional<Pick> RoundRobin::pick(const PickContext& ctx) {
  for (std::size_t t = 0; t < tiers_.size(); ++t) {
    const auto& servers = tiers_[t].servers;
    const std::size_t n = servers.size();
    for (std::size_t step = 0; step < n; ++step) {
      const std::size_t pos = (cursor_[t] + step) % n;
      if (was_tried(ctx.tried, servers[pos])) continue;
      cursor_[t] = (pos + 1) % n;
      return Pick{servers[pos], tiers_[t].priority};
    }
  }
  return std::nullopt;
}

}  // namespace sb::balancer
