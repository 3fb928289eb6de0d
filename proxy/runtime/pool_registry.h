#pragma once
// The pools of one configuration as the runtime needs them: the pool's
// settings, its counters and its current PoolSnapshot (servers, addresses,
// states, live counters).
//
// Owned by the control plane. Snapshots are published to workers (see
// Worker::publish); a connection always resolves a ServerIndex against the
// snapshot it picked from, so a publication never mixes two server lists.

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "balancer/balancer.h"
#include "balancer/pool_snapshot.h"
#include "proxy/config/config.h"
#include "proxy/runtime/asio.h"

namespace sb::runtime {

struct PoolStats {
  std::atomic<std::uint64_t> retries{0};    // further servers presented to
  std::atomic<std::uint64_t> exhausted{0};  // connections no server accepted
};

struct PoolRuntime {
  config::PoolConfig config;
  balancer::Algorithm algorithm = balancer::Algorithm::round_robin;
  balancer::BalancerOptions options;
  std::shared_ptr<const balancer::PoolSnapshot> snapshot;
  PoolStats stats;
};

class PoolRegistry {
 public:
  // Builds every pool of `cfg`. Servers must be IP literals (checked before,
  // by the not-implemented check); throws std::runtime_error otherwise.
  explicit PoolRegistry(const config::Config& cfg);

  std::size_t size() const { return pools_.size(); }
  PoolRuntime& at(std::size_t i) { return *pools_[i]; }
  const PoolRuntime& at(std::size_t i) const { return *pools_[i]; }
  // Index of the pool called `name`; throws std::out_of_range when unknown.
  std::size_t index_of(std::string_view name) const;

 private:
  std::vector<std::unique_ptr<PoolRuntime>> pools_;
};

}  // namespace sb::runtime
