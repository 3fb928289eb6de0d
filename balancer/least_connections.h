#pragma once
// Least connections weighted by `weight` (HAProxy's leastconn, lb_fwlc): the
// server with the fewest active connections per unit of weight, read live
// from the shared counters. Ties go to the next server in rotation, so equal
// servers share new connections evenly instead of the first one taking all.

#include <cstddef>
#include <vector>

#include "balancer/balancer.h"
#include "balancer/slow_start.h"
#include "balancer/tiers.h"

namespace sb::balancer {

class LeastConnections final : public Balancer {
 public:
  LeastConnections(std::shared_ptr<const PoolSnapshot> snapshot, const BalancerOptions& options);
  std::optional<Pick> pick(const PickContext& ctx) override;
  std::string_view algorithm() const override { return "least-connections"; }

 private:
  std::vector<Tier> tiers_;
  std::vector<std::size_t> cursor_;  // per tier: where the tie-break starts
  SlowStart slow_start_;
};

// True when a carries less load per unit of (effective) weight than b:
// (active_a + 1) / weight_a < (active_b + 1) / weight_b, without division.
// The +1 (HAProxy's fwlc) lets weights decide between idle servers too, so a
// server early in its slow start does not take every new connection just
// because it has none yet.
bool less_loaded(const ServerView& a, std::int64_t weight_a, const ServerView& b,
                 std::int64_t weight_b);

}  // namespace sb::balancer
