#pragma once
// Smooth weighted round robin (nginx's ngx_http_upstream_get_peer): every
// pick adds each candidate's weight to its running score, takes the highest
// and subtracts the total from it. Weights 5/1/1 give a a b a c a a — never a
// burst of five to the heaviest server.
//
// The sequence is periodic (period = sum of weights / their gcd), so it is
// computed once per snapshot and a pick is one step along it: O(1) instead
// of nginx's O(n) scan. A pick that must skip tried servers, a tier with a
// server in its slow-start window, or a tier whose period would exceed
// kMaxSchedule runs the scan instead.

#include <cstdint>
#include <vector>

#include "balancer/balancer.h"
#include "balancer/slow_start.h"
#include "balancer/tiers.h"

namespace sb::balancer {

class WeightedRoundRobin final : public Balancer {
 public:
  WeightedRoundRobin(std::shared_ptr<const PoolSnapshot> snapshot, const BalancerOptions& options);
  std::optional<Pick> pick(const PickContext& ctx) override;
  std::string_view algorithm() const override { return "weighted-round-robin"; }

 private:
  static constexpr std::size_t kMaxSchedule = 1 << 16;

  // `ramp`: apply slow start at ctx.now (off while building the schedule).
  std::optional<ServerIndex> scan(const Tier& tier, const PickContext& ctx, bool ramp);

  std::vector<Tier> tiers_;
  std::vector<std::vector<ServerIndex>> schedule_;                // per tier; empty: too long, scan
  std::vector<std::size_t> position_;                             // per tier, into schedule_
  std::vector<std::int64_t> current_;                             // by ServerIndex, for scans
  std::vector<std::chrono::steady_clock::time_point> newest_up_;  // per tier
  SlowStart slow_start_;
};

}  // namespace sb::balancer
