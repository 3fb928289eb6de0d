#pragma once
// Eligible servers grouped by priority tier, lowest tier first. Built once per
// snapshot so that a pick walks short index lists and allocates nothing.

#include <algorithm>
#include <span>
#include <vector>

#include "balancer/pool_snapshot.h"

namespace sb::balancer {

struct Tier {
  int priority = 0;
  std::vector<ServerIndex> servers;  // eligible ones, in configuration order
};

// Servers grouped by tier, lowest first; only eligible ones unless
// `all_members` (hashing keeps every member in its table so that a server
// going down moves only its own keys).
inline std::vector<Tier> group_tiers(const PoolSnapshot& snapshot, bool all_members) {
  std::vector<Tier> tiers;
  for (ServerIndex i = 0; i < snapshot.servers.size(); ++i) {
    const ServerView& s = snapshot.servers[i];
    if (!all_members && !s.eligible()) continue;
    auto it = std::find_if(tiers.begin(), tiers.end(),
                           [&](const Tier& t) { return t.priority == s.priority; });
    if (it == tiers.end()) {
      tiers.push_back({s.priority, {}});
      it = tiers.end() - 1;
    }
    it->servers.push_back(i);
  }
  std::sort(tiers.begin(), tiers.end(),
            [](const Tier& a, const Tier& b) { return a.priority < b.priority; });
  return tiers;
}

inline std::vector<Tier> eligible_tiers(const PoolSnapshot& snapshot) {
  return group_tiers(snapshot, false);
}

inline bool was_tried(std::span<const ServerIndex> tried, ServerIndex s) {
  return std::find(tried.begin(), tried.end(), s) != tried.end();
}

}  // namespace sb::balancer
