// least-connections and random-two-choices read live active counts.
#include <gtest/gtest.h>

#include <map>

#include "balancer/least_connections.h"
#include "balancer/random_two_choices.h"
#include "tests/unit/balancer/pool_fixture.h"

namespace sb::balancer {
namespace {

using testing_util::make_pool;

TEST(LeastConnections, PicksTheFewestPerUnitOfWeight) {
  auto pool = make_pool({{.active = 5}, {.active = 2}, {.weight = 4, .active = 6}});
  LeastConnections b(pool, {});
  EXPECT_EQ(b.pick({})->server, 2u);  // 6/4 = 1.5 < 2/1 < 5/1
}

TEST(LeastConnections, FollowsLiveCounts) {
  auto pool = make_pool({{}, {}, {}});
  LeastConnections b(pool, {});
  // Simulate connections that stay open: each pick adds one to its server.
  std::map<ServerIndex, int> counts;
  for (int i = 0; i < 300; ++i) {
    auto s = b.pick({})->server;
    ++counts[s];
    pool->servers[s].stats->active.fetch_add(1);
  }
  EXPECT_EQ(counts, (std::map<ServerIndex, int>{{0, 100}, {1, 100}, {2, 100}}));
  // One server's connections close: it gets the next ones.
  pool->servers[1].stats->active = 0;
  EXPECT_EQ(b.pick({})->server, 1u);
}

TEST(LeastConnections, TiesRotate) {
  auto pool = make_pool({{}, {}, {}});
  LeastConnections b(pool, {});
  std::map<ServerIndex, int> counts;
  for (int i = 0; i < 30; ++i) ++counts[b.pick({})->server];  // counts stay 0: all tie
  EXPECT_EQ(counts, (std::map<ServerIndex, int>{{0, 10}, {1, 10}, {2, 10}}));
}

TEST(RandomTwoChoices, NeverPicksTheMoreLoadedOfTwo) {
  auto pool = make_pool({{.active = 1}, {.active = 9}});
  RandomTwoChoices b(pool, 7, {});
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(b.pick({})->server, 0u);
}

TEST(RandomTwoChoices, NeverPicksTheMostLoaded) {
  auto pool = make_pool({{.active = 3}, {.active = 1}, {.active = 8}, {.active = 2}});
  RandomTwoChoices b(pool, 11, {});
  std::map<ServerIndex, int> counts;
  for (int i = 0; i < 4000; ++i) ++counts[b.pick({})->server];
  EXPECT_EQ(counts.count(2), 0u);
  // The least loaded wins every pair it is in: half of all pairs.
  EXPECT_NEAR(counts[1], 2000, 200);
}

TEST(RandomTwoChoices, EqualLoadSpreadsEvenly) {
  RandomTwoChoices b(make_pool({{}, {}, {}, {}}), 3, {});
  std::map<ServerIndex, int> counts;
  for (int i = 0; i < 40000; ++i) ++counts[b.pick({})->server];
  for (auto [s, n] : counts) EXPECT_NEAR(n, 10000, 400) << s;
}

}  // namespace
}  // namespace sb::balancer
