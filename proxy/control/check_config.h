#pragma once
// A pool's `health:` section as the health module's CheckSpec for one of its
// servers (the health module does not know the configuration types).

#include <optional>

#include "balancer/pool_snapshot.h"
#include "health/check_spec.h"
#include "proxy/config/config.h"

namespace sb::runtime {

// The health check of `server`, or nothing when `pool` is not checked.
std::optional<health::CheckSpec> check_spec(const config::Config& cfg,
                                            const config::PoolConfig& pool,
                                            const balancer::ServerView& server);

}  // namespace sb::runtime
