#include "balancer/weighted_round_robin.h"

#include <numeric>

namespace sb::balancer {

WeightedRoundRobin::WeightedRoundRobin(std::shared_ptr<const PoolSnapshot> snapshot,
                                       const BalancerOptions& options)
    : Balancer(std::move(snapshot)),
      tiers_(eligible_tiers(*snapshot_)),
      schedule_(tiers_.size()),
      position_(tiers_.size(), 0),
      current_(snapshot_->servers.size(), 0),
      newest_up_(tiers_.size()),
      slow_start_(options.slow_start) {
  for (std::size_t t = 0; t < tiers_.size(); ++t) {
    std::int64_t g = 0, total = 0;
    for (ServerIndex s : tiers_[t].servers) {
      newest_up_[t] = std::max(newest_up_[t], snapshot_->servers[s].up_since);
      g = std::gcd(g, static_cast<std::int64_t>(snapshot_->servers[s].weight));
      total += snapshot_->servers[s].weight;
    }
    const auto period = static_cast<std::size_t>(total / std::max<std::int64_t>(g, 1));
    if (period > kMaxSchedule) continue;  // scan at pick time instead
    schedule_[t].reserve(period);
    for (std::size_t i = 0; i < period; ++i) {
      schedule_[t].push_back(*scan(tiers_[t], {}, /*ramp=*/false));
    }
    // The scan left its scores at their start again after a whole period.
  }
}

// nginx's step over the tier's untried servers.
std::optional<ServerIndex> WeightedRoundRobin::scan(const Tier& tier, const PickContext& ctx,
                                                    bool ramp) {
  std::int64_t total = 0;
  std::optional<ServerIndex> best;
  for (ServerIndex s : tier.servers) {
    if (was_tried(ctx.tried, s)) continue;
    const ServerView& v = snapshot_->servers[s];
    const std::int64_t w = ramp ? slow_start_.weight(v, ctx.now) : v.weight * kWeightScale;
    current_[s] += w;
    total += w;
    if (!best || current_[s] > current_[*best]) best = s;
  }
  if (best) current_[*best] -= total;
  return best;
}

std::optional<Pick> WeightedRoundRobin::pick(const PickContext& ctx) {
  for (std::size_t t = 0; t < tiers_.size(); ++t) {
    const auto& schedule = schedule_[t];
    const bool ramping = slow_start_.enabled() &&
                         newest_up_[t] != std::chrono::steady_clock::time_point{} &&
                         ctx.now - newest_up_[t] < slow_start_.window();
    if (!schedule.empty() && ctx.tried.empty() && !ramping) {
      const ServerIndex s = schedule[position_[t]];
      if (++position_[t] == schedule.size()) position_[t] = 0;
      return Pick{s, tiers_[t].priority};
    }
    if (auto s = scan(tiers_[t], ctx, /*ramp=*/true)) return Pick{*s, tiers_[t].priority};
  }
  return std::nullopt;
}

}  // namespace sb::balancer
