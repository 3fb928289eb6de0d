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

// Whether a configured server comes from DNS (HOST:PORT, srv:, mx:).
bool is_discovered(const config::ServerEntry& s);
balancer::AdminState to_admin(config::AdminState s);
// An IP:PORT server entry as a pool member (no id, no stats yet).
balancer::ServerView static_server(const config::ServerEntry& s);

class PoolRegistry {
 public:
  // Builds every pool of `cfg` with its IP:PORT servers. Servers found
  // through DNS (HOST:PORT, srv:, mx:) join later, through discovery.
  explicit PoolRegistry(const config::Config& cfg);

  std::size_t size() const { return pools_.size(); }
  PoolRuntime& at(std::size_t i) { return *pools_[i]; }
  const PoolRuntime& at(std::size_t i) const { return *pools_[i]; }
  // Index of the pool called `name`; throws std::out_of_range when unknown.
  std::size_t index_of(std::string_view name) const;

  // A fresh ServerView::id (control thread).
  std::uint64_t next_server_id() { return ++last_server_id_; }

 private:
  std::vector<std::unique_ptr<PoolRuntime>> pools_;
  std::uint64_t last_server_id_ = 0;
};

}  // namespace sb::runtime
