#include "balancer/weighted_round_robin.h"

namespace sb::balancer {

WeightedRoundRobin::WeightedRoundRobin(std::shared_ptr<const PoolSnapshot> snapshot)
    : Balancer(std::move(snapshot)),
      tiers_(eligible_tiers(*snapshot_)),
      current_(snapshot_->servers.size(), 0) {}

std::optional<Pick> WeightedRoundRobin::pick(const PickContext& ctx) {
  for (const Tier& tier : tiers_) {
    std::int64_t total = 0;
    ServerIndex best = 0;
    bool found = false;
    for (ServerIndex s : tier.servers) {
      if (was_tried(ctx.tried, s)) continue;
      const std::int64_t w = snapshot_->servers[s].weight;
      current_[s] += w;
      total += w;
      if (!found || current_[s] > current_[best]) {
        best = s;
        found = true;
      }
    }
    if (!found) continue;
    current_[best] -= total;
    return Pick{best, tier.priority};
  }
  return std::nullopt;
}

}  // namespace sb::balancer
