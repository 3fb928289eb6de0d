#pragma once
// Least connections weighted by `weight` (HAProxy's leastconn, lb_fwlc): the
// server with the fewest active connections per unit of weight, read live
// from the shared counters. Ties go to the next server in rotation, so equal
// servers share new connections evenly instead of the first one taking all.

#include <cstddef>
#include <vector>

#include "balancer/balancer.h"
#include "balancer/tiers.h"

namespace sb::balancer {

class LeastConnections final : public Balancer {
 public:
  explicit LeastConnections(std::shared_ptr<const PoolSnapshot> snapshot);
  std::optional<Pick> pick(const PickContext& ctx) override;
  std::string_view algorithm() const override { return "least-connections"; }

 private:
  std::vector<Tier> tiers_;
  std::vector<std::size_t> cursor_;  // per tier: where the tie-break starts
};

// True when a carries less load per unit of weight than b:
// active_a / weight_a < active_b / weight_b, without division.
bool less_loaded(const ServerView& a, const ServerView& b);

}  // namespace sb::balancer
