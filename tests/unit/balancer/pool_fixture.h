#pragma once
// Builds pool snapshots for balancer tests.

#include <memory>
#include <string>
#include <vector>

#include "balancer/pool_snapshot.h"

namespace sb::balancer::testing_util {

struct ServerSpec {
  int weight = 1;
  int priority = 0;
  Health health = Health::up;
  AdminState admin = AdminState::enabled;
  std::int64_t active = 0;
};

// Servers are named s0, s1, ... in order.
inline std::shared_ptr<PoolSnapshot> make_pool(const std::vector<ServerSpec>& specs) {
  auto s = std::make_shared<PoolSnapshot>();
  s->name = "p";
  for (std::size_t i = 0; i < specs.size(); ++i) {
    ServerView v;
    v.name = "s" + std::to_string(i);
    v.weight = specs[i].weight;
    v.priority = specs[i].priority;
    v.health = specs[i].health;
    v.admin = specs[i].admin;
    v.stats = std::make_shared<ServerStats>();
    v.stats->active = specs[i].active;
    s->servers.push_back(std::move(v));
  }
  return s;
}

}  // namespace sb::balancer::testing_util
