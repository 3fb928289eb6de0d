#include "balancer/round_robin.h"

#include <gtest/gtest.h>

#include <map>
#include <vector>

namespace sb::balancer {
namespace {

std::shared_ptr<PoolSnapshot> pool(std::vector<std::pair<int, Health>> servers) {
  auto s = std::make_shared<PoolSnapshot>();
  s->name = "p";
  int i = 0;
  for (auto [priority, health] : servers) {
    ServerView v;
    v.name = "s" + std::to_string(i++);
    v.priority = priority;
    v.health = health;
    v.stats = std::make_shared<ServerStats>();
    s->servers.push_back(std::move(v));
  }
  return s;
}

std::map<ServerIndex, int> spread(Balancer& b, int picks) {
  std::map<ServerIndex, int> counts;
  for (int i = 0; i < picks; ++i) {
    auto p = b.pick({});
    if (p) ++counts[p->server];
  }
  return counts;
}

TEST(RoundRobin, SpreadIsExactOverWholeRounds) {
  for (std::size_t n : {1u, 2u, 3u, 7u}) {
    for (std::uint64_t seed : {0u, 1u, 12345u}) {
      std::vector<std::pair<int, Health>> servers(n, {0, Health::up});
      RoundRobin rr(pool(servers), seed);
      const int rounds = 50;
      auto counts = spread(rr, static_cast<int>(n) * rounds);
      ASSERT_EQ(counts.size(), n);
      for (auto [server, count] : counts) EXPECT_EQ(count, rounds) << "server " << server;
    }
  }
}

TEST(RoundRobin, ConsecutivePicksNeverRepeatWithSeveralServers) {
  RoundRobin rr(pool({{0, Health::up}, {0, Health::up}, {0, Health::up}}), 7);
  auto prev = rr.pick({})->server;
  for (int i = 0; i < 100; ++i) {
    auto next = rr.pick({})->server;
    EXPECT_NE(next, prev);
    prev = next;
  }
}

TEST(RoundRobin, SkipsServersThatAreNotEligible) {
  auto snap = pool({{0, Health::up}, {0, Health::down}, {0, Health::up}, {0, Health::up}});
  snap->servers[2].admin = AdminState::drain;
  snap->servers[3].admin = AdminState::disabled;
  RoundRobin rr(snap, 3);
  auto counts = spread(rr, 30);
  ASSERT_EQ(counts.size(), 1u);
  EXPECT_EQ(counts[0], 30);
}

TEST(RoundRobin, NoEligibleServerIsAnExplicitAnswer) {
  RoundRobin rr(pool({{0, Health::down}, {1, Health::down}}), 0);
  EXPECT_FALSE(rr.pick({}).has_value());
  RoundRobin empty(pool({}), 0);
  EXPECT_FALSE(empty.pick({}).has_value());
}

TEST(RoundRobin, LowestTierTakesEverythingWhileAnyIsUp) {
  RoundRobin rr(pool({{1, Health::up}, {0, Health::up}, {2, Health::up}, {0, Health::up}}), 0);
  auto counts = spread(rr, 100);
  EXPECT_EQ(counts.size(), 2u);
  EXPECT_EQ(counts[1], 50);
  EXPECT_EQ(counts[3], 50);
  auto p = rr.pick({});
  EXPECT_EQ(p->tier, 0);
}

TEST(RoundRobin, NextTierOnlyWhenLowerTiersAreDown) {
  RoundRobin rr(pool({{0, Health::down}, {1, Health::up}, {2, Health::up}}), 0);
  auto counts = spread(rr, 10);
  ASSERT_EQ(counts.size(), 1u);
  EXPECT_EQ(counts[1], 10);
}

TEST(RoundRobin, TriedServersAreExcludedThenHigherTiersServe) {
  RoundRobin rr(pool({{0, Health::up}, {0, Health::up}, {1, Health::up}}), 0);
  std::vector<ServerIndex> tried;
  for (int attempt = 0; attempt < 3; ++attempt) {
    PickContext ctx;
    ctx.tried = tried;
    auto p = rr.pick(ctx);
    ASSERT_TRUE(p);
    for (auto t : tried) EXPECT_NE(p->server, t);
    tried.push_back(p->server);
  }
  // Both tier-0 servers came before the tier-1 one.
  EXPECT_EQ(tried[2], 2u);
  PickContext ctx;
  ctx.tried = tried;
  EXPECT_FALSE(rr.pick(ctx).has_value());
}

TEST(RoundRobin, SeedsStartWorkersApart) {
  auto snap = pool({{0, Health::up}, {0, Health::up}, {0, Health::up}});
  std::map<ServerIndex, int> firsts;
  for (std::uint64_t seed = 0; seed < 3; ++seed) {
    RoundRobin rr(snap, seed);
    ++firsts[rr.pick({})->server];
  }
  EXPECT_EQ(firsts.size(), 3u);
}

TEST(Balancer, FactoryBuildsRoundRobin) {
  auto b = make_balancer(Algorithm::round_robin, pool({{0, Health::up}}), 0, {});
  ASSERT_TRUE(b);
  EXPECT_EQ(b->algorithm(), "round-robin");
  EXPECT_EQ(b->pick({})->server, 0u);
}

TEST(ServerView, EffectiveStateCombinesAdminAndHealth) {
  ServerView v;
  EXPECT_EQ(v.state(), EffectiveState::up);
  v.health = Health::down;
  EXPECT_EQ(v.state(), EffectiveState::down);
  v.admin = AdminState::drain;
  EXPECT_EQ(v.state(), EffectiveState::drain);
  v.admin = AdminState::disabled;
  EXPECT_EQ(v.state(), EffectiveState::disabled);
  EXPECT_EQ(to_string(EffectiveState::drain), "drain");
}

TEST(ActiveConnection, CountsWhileAlive) {
  ServerStats stats;
  {
    ActiveConnection a(&stats);
    EXPECT_EQ(stats.active.load(), 1);
    ActiveConnection b = std::move(a);
    EXPECT_EQ(stats.active.load(), 1);
  }
  EXPECT_EQ(stats.active.load(), 0);
  EXPECT_EQ(stats.connections_total.load(), 1u);
}

}  // namespace
}  // namespace sb::balancer
