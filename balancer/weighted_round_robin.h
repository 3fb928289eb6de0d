#pragma once
// Smooth weighted round robin (nginx's ngx_http_upstream_get_peer): every
// pick adds each candidate's weight to its running score, takes the highest
// and subtracts the total from it. Weights 5/1/1 give a a b a c a a — never a
// burst of five to the heaviest server.

#include <cstdint>
#include <vector>

#include "balancer/balancer.h"
#include "balancer/tiers.h"

namespace sb::balancer {

class WeightedRoundRobin final : public Balancer {
 public:
  explicit WeightedRoundRobin(std::shared_ptr<const PoolSnapshot> snapshot);
  std::optional<Pick> pick(const PickContext& ctx) override;
  std::string_view algorithm() const override { return "weighted-round-robin"; }

 private:
  std::vector<Tier> tiers_;
  std::vector<std::int64_t> current_;  // by ServerIndex
};

}  // namespace sb::balancer
