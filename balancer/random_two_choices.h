#pragma once
// The power of two random choices (Mitzenmacher; Envoy's default
// least-request): pick two distinct candidates at random and keep the less
// loaded (active connections per unit of weight). Nearly as even as least
// connections without scanning every server, and without herding when many
// workers decide at once.

#include "balancer/balancer.h"
#include "balancer/hash.h"
#include "balancer/slow_start.h"
#include "balancer/tiers.h"

namespace sb::balancer {

class RandomTwoChoices final : public Balancer {
 public:
  RandomTwoChoices(std::shared_ptr<const PoolSnapshot> snapshot, std::uint64_t seed,
                   const BalancerOptions& options);
  std::optional<Pick> pick(const PickContext& ctx) override;
  std::string_view algorithm() const override { return "random-two-choices"; }

 private:
  std::vector<Tier> tiers_;
  Random random_;
  SlowStart slow_start_;
};

}  // namespace sb::balancer
