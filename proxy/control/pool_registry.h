#pragma once
// The pools of one configuration as the runtime needs them: the pool's
// settings, its counters and its current PoolSnapshot (servers, addresses,
// states, live counters).
//
// Owned by the control plane. Snapshots are published to workers (see
// Worker::publish); a connection always resolves a ServerIndex against the
// snapshot it picked from, so a publication never mixes two server lists.
//
// A reload (docs/configuration.md) builds a new PoolRuntime for every pool: its settings
// never change under a connection, which holds the one it started with. A
// pool that keeps its name keeps its counters and its servers (their ids,
// health and connections); PoolControl then applies the new server list.

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "balancer/balancer.h"
#include "balancer/pool_snapshot.h"
#include "proxy/asio.h"
#include "proxy/config/config.h"

namespace sb::runtime {

struct PoolStats {
  std::atomic<std::uint64_t> retries{0};    // further servers presented to
  std::atomic<std::uint64_t> exhausted{0};  // connections no server accepted
};

struct PoolRuntime {
  // Immutable once the pool is installed: workers and connections read them.
  config::PoolConfig config;
  balancer::Algorithm algorithm = balancer::Algorithm::round_robin;
  balancer::BalancerOptions options;
  std::size_t index = 0;  // its place in the registry of its configuration
  // Shared with the pool of the same name in earlier and later configurations.
  std::shared_ptr<PoolStats> stats = std::make_shared<PoolStats>();
  // Control thread only: the current snapshot (workers receive theirs
  // through Worker::publish and never read this field).
  std::shared_ptr<const balancer::PoolSnapshot> snapshot;
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

  using Pools = std::vector<std::shared_ptr<PoolRuntime>>;

  std::size_t size() const { return pools_.size(); }
  PoolRuntime& at(std::size_t i) { return *pools_[i]; }
  const PoolRuntime& at(std::size_t i) const { return *pools_[i]; }
  const std::shared_ptr<PoolRuntime>& shared(std::size_t i) const { return pools_[i]; }
  const Pools& all() const { return pools_; }

  // Reload, step 1: the pools of `cfg`, not installed yet. A pool whose name
  // exists now starts from its current snapshot and counters; a new one
  // starts empty (PoolControl::set_members adds its servers).
  Pools prepare(const config::Config& cfg) const;
  // Step 2: `next` becomes the current set (control thread).
  void commit(Pools next) { pools_ = std::move(next); }
  // Index of the pool called `name`; throws std::out_of_range when unknown.
  std::size_t index_of(std::string_view name) const;

  // A fresh ServerView::id (control thread).
  std::uint64_t next_server_id() { return ++last_server_id_; }

 private:
  Pools pools_;
  std::uint64_t last_server_id_ = 0;
};

}  // namespace sb::runtime
