#include "balancer/least_connections.h"

namespace sb::balancer {

bool less_loaded(const ServerView& a, std::int64_t weight_a, const ServerView& b,
                 std::int64_t weight_b) {
  const auto load_a = a.stats->active.load(std::memory_order_relaxed) + 1;
  const auto load_b = b.stats->active.load(std::memory_order_relaxed) + 1;
  return load_a * weight_b < load_b * weight_a;
}

LeastConnections::LeastConnections(std::shared_ptr<const PoolSnapshot> snapshot,
                                   const BalancerOptions& options)
    : Balancer(std::move(snapshot)),
      tiers_(eligible_tiers(*snapshot_)),
      cursor_(tiers_.size(), 0),
      slow_start_(options.slow_start) {}

std::optional<Pick> LeastConnections::pick(const PickContext& ctx) {
  for (std::size_t t = 0; t < tiers_.size(); ++t) {
    const auto& servers = tiers_[t].servers;
    const std::size_t n = servers.size();
    const ServerView* best = nullptr;
    std::int64_t best_weight = 0;
    std::size_t best_pos = 0;
    for (std::size_t step = 0; step < n; ++step) {
      const std::size_t pos = (cursor_[t] + step) % n;
      if (was_tried(ctx.tried, servers[pos])) continue;
      const ServerView& s = snapshot_->servers[servers[pos]];
      const std::int64_t w = slow_start_.weight(s, ctx.now);
      if (!best || less_loaded(s, w, *best, best_weight)) {
        best = &s;
        best_weight = w;
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
