#include "balancer/first_available.h"

namespace sb::balancer {

FirstAvailable::FirstAvailable(std::shared_ptr<const PoolSnapshot> snapshot)
    : Balancer(std::move(snapshot)), tiers_(eligible_tiers(*snapshot_)) {}

std::optional<Pick> FirstAvailable::pick(const PickContext& ctx) {
  for (const Tier& tier : tiers_) {
    for (ServerIndex s : tier.servers) {  // configuration order within the tier
      if (!was_tried(ctx.tried, s)) return Pick{s, tier.priority};
    }
  }
  return std::nullopt;
}

}  // namespace sb::balancer
