// Properties every algorithm must have (docs/configuration.md): only eligible servers,
// priority tiers, exclusion of tried servers, explicit "none", determinism.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <map>
#include <set>
#include <vector>

#include "balancer/balancer.h"
#include "tests/unit/balancer/pool_fixture.h"

namespace sb::balancer {
namespace {

using testing_util::make_pool;
using testing_util::ServerSpec;

class EveryAlgorithm : public ::testing::TestWithParam<Algorithm> {
 protected:
  std::unique_ptr<Balancer> build(std::shared_ptr<PoolSnapshot> snapshot, std::uint64_t seed = 1) {
    return make_balancer(GetParam(), std::move(snapshot), seed, {});
  }
};

// Many different clients, so that hashing algorithms spread too.
std::vector<std::array<std::uint8_t, 4>> clients(int n) {
  std::vector<std::array<std::uint8_t, 4>> out;
  for (int i = 0; i < n; ++i) {
    out.push_back({10, static_cast<std::uint8_t>(i >> 8), static_cast<std::uint8_t>(i), 7});
  }
  return out;
}

std::map<ServerIndex, int> spread(Balancer& b, int picks) {
  std::map<ServerIndex, int> counts;
  auto addrs = clients(picks);
  for (int i = 0; i < picks; ++i) {
    PickContext ctx;
    ctx.client_address = addrs[i];
    if (auto p = b.pick(ctx)) ++counts[p->server];
  }
  return counts;
}

TEST_P(EveryAlgorithm, EveryEligibleServerGetsTraffic) {
  if (GetParam() == Algorithm::first_available) GTEST_SKIP() << "one server by design";
  auto b = build(make_pool({{}, {}, {}, {}}));
  EXPECT_EQ(spread(*b, 4000).size(), 4u);
}

TEST_P(EveryAlgorithm, NeverPicksDownDrainedOrDisabled) {
  auto pool = make_pool({{},
                         {.health = Health::down},
                         {.admin = AdminState::drain},
                         {.admin = AdminState::disabled},
                         {}});
  auto b = build(pool);
  auto counts = spread(*b, 2000);
  counts.erase(0);
  counts.erase(4);
  EXPECT_TRUE(counts.empty());
}

TEST_P(EveryAlgorithm, EmptyAndAllDownPoolsAnswerNone) {
  EXPECT_FALSE(build(make_pool({}))->pick({}).has_value());
  auto down = make_pool({{.health = Health::down},
                         {.priority = 1, .health = Health::down},
                         {.admin = AdminState::disabled}});
  EXPECT_FALSE(build(down)->pick({}).has_value());
}

TEST_P(EveryAlgorithm, LowestTierTakesAllThenFailsOverAndBack) {
  std::vector<ServerSpec> specs = {
      {.priority = 0}, {.priority = 0}, {.priority = 1}, {.priority = 2}};
  auto counts = spread(*build(make_pool(specs)), 1000);
  EXPECT_EQ(counts.count(2) + counts.count(3), 0u);
  // Tier 0 down: tier 1 takes everything, tier 2 nothing.
  specs[0].health = specs[1].health = Health::down;
  counts = spread(*build(make_pool(specs)), 1000);
  EXPECT_EQ(counts, (std::map<ServerIndex, int>{{2, 1000}}));
  // Back up: back to tier 0.
  specs[0].health = Health::up;
  counts = spread(*build(make_pool(specs)), 1000);
  EXPECT_EQ(counts, (std::map<ServerIndex, int>{{0, 1000}}));
}

TEST_P(EveryAlgorithm, TriedServersAreNeverPickedAgain) {
  auto b = build(make_pool({{}, {}, {}, {.priority = 1}}));
  for (auto addr : clients(200)) {
    std::vector<ServerIndex> tried;
    for (int attempt = 0; attempt < 4; ++attempt) {
      PickContext ctx;
      ctx.client_address = addr;
      ctx.tried = tried;
      auto p = b->pick(ctx);
      ASSERT_TRUE(p) << "attempt " << attempt;
      ASSERT_EQ(std::count(tried.begin(), tried.end(), p->server), 0);
      // The tier-1 server only once the three tier-0 servers were tried.
      EXPECT_EQ(p->server == 3, attempt == 3);
      tried.push_back(p->server);
    }
    PickContext ctx;
    ctx.client_address = addr;
    ctx.tried = tried;
    EXPECT_FALSE(b->pick(ctx).has_value());
  }
}

TEST_P(EveryAlgorithm, DeterministicForAFixedSeed) {
  auto pool = make_pool({{.weight = 3}, {}, {.weight = 2}});
  auto a = build(pool, 42);
  auto b = build(pool, 42);
  auto addrs = clients(300);
  for (auto& addr : addrs) {
    PickContext ctx;
    ctx.client_address = addr;
    EXPECT_EQ(a->pick(ctx)->server, b->pick(ctx)->server);
  }
}

INSTANTIATE_TEST_SUITE_P(Balance, EveryAlgorithm,
                         ::testing::Values(Algorithm::round_robin, Algorithm::weighted_round_robin,
                                           Algorithm::least_connections,
                                           Algorithm::random_two_choices, Algorithm::source_ip,
                                           Algorithm::source_network, Algorithm::maglev,
                                           Algorithm::first_available),
                         [](const ::testing::TestParamInfo<Algorithm>& info) {
                           std::string name(
                               make_balancer(info.param, make_pool({{}}), 0, {})->algorithm());
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

TEST(EveryAlgorithmFirstAvailable, SendsEverythingToTheFirstEligible) {
  auto counts =
      spread(*make_balancer(Algorithm::first_available, make_pool({{}, {}, {}}), 0, {}), 50);
  EXPECT_EQ(counts, (std::map<ServerIndex, int>{{0, 50}}));
  counts = spread(*make_balancer(Algorithm::first_available,
                                 make_pool({{.health = Health::down}, {}, {}}), 0, {}),
                  50);
  EXPECT_EQ(counts, (std::map<ServerIndex, int>{{1, 50}}));
}

}  // namespace
}  // namespace sb::balancer
