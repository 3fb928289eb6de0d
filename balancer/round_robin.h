#pragma once
// Plain round robin within the lowest eligible tier (NLB affinity "None").

#include <cstdint>
#include <vector>

#include "balancer/balancer.h"
#include "balancer/tiers.h"

namespace sb::balancer {

class RoundRobin final : public Balancer {
 public:
  RoundRobin(std::shared_ptr<const PoolSnapshot> snapshot, std::uint64_t seed);
  std::optional<Pick> pick(const PickContext& ctx) override;
  std::string_view algorithm() const override { return "round-robin"; }

 private:
  std::vector<Tier> tiers_;
  std::vector<std::size_t> cursor_;  // per tier: the position to try next
};

}  // namespace sb::balancer
