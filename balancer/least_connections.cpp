#include "balancer/least_connections.h"

namespace sb::balancer {

bool less_loaded(const ServerView& a, const ServerView& b) {
  const auto load_a = a.stats->active.load(std::memory_order_relaxed);
  const auto load_b = b.stats->active.load(std::memory_order_relaxed);
  return load_a * b.weight < load_b * a.weight;
}

LeastConnections::LeastConnections(std::shared_ptr<const PoolSnapshot> snapshot)
    : Balancer(std::move(snapshot)),
      tiers_(eligible_tiers(*snapshot_)),
      cursor_(tiers_.size(), 0) {}

std::optional<Pick> LeastConnections::pick(const PickContext& ctx) {
  for (std::size_t t = 0; t < tiers_.size(); ++t) {
    const auto& servers = tiers_[t].servers;
    const std::size_t n = servers.size();
    const ServerView* best = nullptr;
    std::size_t best_pos = 0;
    for (std::size_t step = 0; step < n; ++step) {
      const std::size_t pos = (cursor_[t] + step) % n;
      if (was_tried(ctx.tried, servers[pos])) continue;
      const ServerView& s = snapshot_->servers[servers[pos]];
      if (!best || less_loaded(s, *best)) {
        best = &s;
        best_pos = pos;
      }
    }
    if (!best) continue;
    cursor_[t] = (best_pos + 1) % n;
    return Pick{servers[best_pos], tiers_[t].priority};
  }
  return std::nullopt;
}

}  // namespace sb::balancer
