#pragma once
// The one interface every algorithm implements (docs/configuration.md `balance:`).
//
// A Balancer is built from one immutable PoolSnapshot and owned by one worker
// thread: pick() is called only from that thread, so algorithms keep their
// cursors in plain members — no locks, no atomics, no allocation per pick.
// When the control plane publishes a new snapshot the worker builds a new
// Balancer.
//
// Priority tiers apply to every algorithm: a pick considers the lowest tier
// (priority number) that still has an eligible server not yet tried; higher
// tiers receive traffic only when every lower tier is down, drained, disabled
// or already tried for this connection.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>

#include "balancer/pool_snapshot.h"

namespace sb::balancer {

struct PickContext {
  // The client's address in network byte order: 4 bytes (IPv4) or 16 (IPv6);
  // empty when unknown. Hashing algorithms key on it.
  std::span<const std::uint8_t> client_address;
  // An L7 affinity key (cookie value), when there is one.
  std::optional<std::uint64_t> hash_key;
  // Servers this connection was already presented to; never picked again.
  std::span<const ServerIndex> tried;
  // The time of the pick, for slow start (the caller's clock, so that tests
  // control it). Only read when the pool has a slow-start window.
  std::chrono::steady_clock::time_point now{};
};

struct Pick {
  ServerIndex server = 0;
  int tier = 0;  // the priority tier it came from
};

class Balancer {
 public:
  virtual ~Balancer() = default;
  // A server that is eligible and not in ctx.tried, or nullopt when there is
  // none (the caller then answers as docs/configuration.md says: 421, 502/503, 503, close).
  virtual std::optional<Pick> pick(const PickContext& ctx) = 0;
  virtual std::string_view algorithm() const = 0;
  const PoolSnapshot& snapshot() const { return *snapshot_; }
  // For callers that must keep the snapshot alive across suspension points.
  const std::shared_ptr<const PoolSnapshot>& snapshot_ptr() const { return snapshot_; }

 protected:
  explicit Balancer(std::shared_ptr<const PoolSnapshot> snapshot)
      : snapshot_(std::move(snapshot)) {}
  std::shared_ptr<const PoolSnapshot> snapshot_;
};

// docs/configuration.md `balance:`.
enum class Algorithm : std::uint8_t {
  round_robin,           // rotation; weights ignored
  weighted_round_robin,  // nginx's smooth weighted rotation
  least_connections,     // fewest active connections per unit of weight
  random_two_choices,    // two random servers, the less loaded of the two
  source_ip,             // affinity by client address (NLB "single")
  source_network,        // affinity by client network (NLB "network")
  maglev,                // consistent hashing on the L7 key, else the address
  first_available,       // the first eligible server in configuration order
};

struct BalancerOptions {
  int source_prefix_v4 = 24;  // source-network: bits of an IPv4 address that count
  int source_prefix_v6 = 48;  // ... and of an IPv6 address
  // Slow start: a server that became eligible less than this ago counts with
  // a weight that grows linearly from ~0 to its own over the window.
  // Weighted algorithms only (weighted-round-robin, least-connections,
  // random-two-choices): rotation, hashing and first-available have no
  // share to ramp, as in HAProxy.
  std::chrono::milliseconds slow_start{0};
};

// Builds the balancer for `algorithm` over `snapshot`. `seed` feeds the
// algorithms that randomise (start offsets, two choices) so that tests are
// deterministic; workers pass different seeds so they do not move in step.
// Hashing algorithms ignore the seed: every worker must agree on affinity.
std::unique_ptr<Balancer> make_balancer(Algorithm algorithm,
                                        std::shared_ptr<const PoolSnapshot> snapshot,
                                        std::uint64_t seed, const BalancerOptions& options);

}  // namespace sb::balancer
