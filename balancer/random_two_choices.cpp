#include "balancer/random_two_choices.h"

#include "balancer/least_connections.h"

namespace sb::balancer {

RandomTwoChoices::RandomTwoChoices(std::shared_ptr<const PoolSnapshot> snapshot, std::uint64_t seed,
                                   const BalancerOptions& options)
    : Balancer(std::move(snapshot)),
      tiers_(eligible_tiers(*snapshot_)),
      random_(seed),
      slow_start_(options.slow_start) {}

std::optional<Pick> RandomTwoChoices::pick(const PickContext& ctx) {
  for (const Tier& tier : tiers_) {
    const auto& servers = tier.servers;
    const std::size_t n = servers.size();
    std::size_t untried = 0;
    for (ServerIndex s : servers) untried += was_tried(ctx.tried, s) ? 0 : 1;
    if (untried == 0) continue;
    // The k-th untried server, without building a list (tried is tiny).
    const auto nth_untried = [&](std::size_t k) {
      for (std::size_t i = 0; i < n; ++i) {
        if (was_tried(ctx.tried, servers[i])) continue;
        if (k-- == 0) return servers[i];
      }
      return servers[0];  // unreachable: k < untried
    };
    const std::size_t i = random_.below(untried);
    ServerIndex a = nth_untried(i);
    if (untried > 1) {
      // A second, distinct candidate: one of the other untried - 1.
      std::size_t j = random_.below(untried - 1);
      if (j >= i) ++j;
      const ServerIndex b = nth_untried(j);
      const ServerView& sa = snapshot_->servers[a];
      const ServerView& sb = snapshot_->servers[b];
      if (less_loaded(sb, slow_start_.weight(sb, ctx.now), sa, slow_start_.weight(sa, ctx.now))) {
        a = b;
      }
    }
    return Pick{a, tier.priority};
  }
  return std::nullopt;
}

}  // namespace sb::balancer
