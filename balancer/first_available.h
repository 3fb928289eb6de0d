#pragma once
// All traffic to the first eligible server in configuration order (Windows
// NLB single-host filtering; HAProxy `balance first`). The next server takes
// over only when the first is down, drained, disabled or refused this
// connection, and traffic returns as soon as the first is eligible again.

#include "balancer/balancer.h"
#include "balancer/tiers.h"

namespace sb::balancer {

class FirstAvailable final : public Balancer {
 public:
  explicit FirstAvailable(std::shared_ptr<const PoolSnapshot> snapshot);
  std::optional<Pick> pick(const PickContext& ctx) override;
  std::string_view algorithm() const override { return "first-available"; }

 private:
  std::vector<Tier> tiers_;
};

}  // namespace sb::balancer
