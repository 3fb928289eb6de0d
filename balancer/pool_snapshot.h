#pragma once
// The immutable view of a pool that a balancer chooses from. The control
// plane builds a new snapshot whenever health, admin state or membership
// changes and publishes it to the workers; a snapshot is never modified after
// it is built, so workers read it without locks.

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "balancer/server_stats.h"
#include "net/ip_address.h"

namespace sb::balancer {

using ServerIndex = std::uint32_t;

enum class Health : std::uint8_t { up, down };
enum class AdminState : std::uint8_t { enabled, drain, disabled };
// What /status and the metrics call `state`: health and admin state combined.
enum class EffectiveState : std::uint8_t { up, down, drain, disabled };

struct ServerView {
  // Stable identity across snapshots (assigned by the control plane): health
  // state, checks and reports follow a server by id, since its index changes
  // when DNS discovery adds or removes servers.
  std::uint64_t id = 0;
  std::string name;
  std::string address;  // as configured, for logs and dry runs
  // Where to connect (plain bytes: this module needs no socket types).
  net::IpAddress ip;
  std::uint16_t port = 0;
  int weight = 1;
  int priority = 0;  // tier; 0 first
  Health health = Health::up;
  AdminState admin = AdminState::enabled;
  std::shared_ptr<ServerStats> stats;  // never null
  // When the server last became eligible (came back up, or was enabled):
  // slow start ramps its share from here. Default: long ago, no ramp.
  std::chrono::steady_clock::time_point up_since{};

  // Only up and enabled servers receive new connections.
  bool eligible() const { return health == Health::up && admin == AdminState::enabled; }
  EffectiveState state() const;
};

struct PoolSnapshot {
  std::string name;
  std::vector<ServerView> servers;  // index = ServerIndex, in configuration order
  std::uint64_t generation = 0;     // increases with every publication
};

std::string_view to_string(EffectiveState);
std::string_view to_string(AdminState);

}  // namespace sb::balancer
