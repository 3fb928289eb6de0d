// Slow start: a server that came back takes a share that grows linearly over
// the window (weighted-round-robin, least-connections, random-two-choices).
#include <gtest/gtest.h>

#include <chrono>
#include <map>

#include "balancer/balancer.h"
#include "tests/unit/balancer/pool_fixture.h"

namespace sb::balancer {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using testing_util::make_pool;

// The share of picks that go to a server which came back at `t0`, `elapsed`
// into a 10 s window, beside an equal server that never left. Connections
// stay open (each pick adds one active connection), as in real traffic, so
// that the load-aware algorithms see their own decisions.
double recovered_share(Algorithm algorithm, std::chrono::milliseconds elapsed) {
  auto pool = make_pool({{}, {}});
  const Clock::time_point t0 = Clock::time_point{} + 1h;
  pool->servers[1].up_since = t0;
  BalancerOptions options;
  options.slow_start = 10s;
  auto b = make_balancer(algorithm, pool, 5, options);
  int recovered = 0;
  const int picks = 20000;
  for (int i = 0; i < picks; ++i) {
    PickContext ctx;
    ctx.now = t0 + elapsed;
    const auto s = b->pick(ctx)->server;
    recovered += s == 1;
    pool->servers[s].stats->active.fetch_add(1);
  }
  return static_cast<double>(recovered) / picks;
}

class SlowStartTest : public ::testing::TestWithParam<Algorithm> {};

TEST_P(SlowStartTest, ShareGrowsLinearlyOverTheWindow) {
  // Weights 0 : 1, 0.5 : 1 and 1 : 1 -> shares ~0, 1/3 and 1/2.
  EXPECT_LT(recovered_share(GetParam(), 0ms), 0.01);
  EXPECT_NEAR(recovered_share(GetParam(), 5s), 1.0 / 3, 0.02);
  EXPECT_NEAR(recovered_share(GetParam(), 10s), 0.5, 0.02);
  EXPECT_NEAR(recovered_share(GetParam(), 60s), 0.5, 0.02);
}

INSTANTIATE_TEST_SUITE_P(Weighted, SlowStartTest,
                         ::testing::Values(Algorithm::weighted_round_robin,
                                           Algorithm::least_connections,
                                           Algorithm::random_two_choices));

TEST(SlowStart, OffWithoutAWindowOrARecovery) {
  auto pool = make_pool({{}, {}});
  pool->servers[1].up_since = Clock::time_point{} + 1h;
  auto b = make_balancer(Algorithm::weighted_round_robin, pool, 0, {});  // no window
  std::map<ServerIndex, int> counts;
  PickContext ctx;
  ctx.now = Clock::time_point{} + 1h;
  for (int i = 0; i < 100; ++i) ++counts[b->pick(ctx)->server];
  EXPECT_EQ(counts[1], 50);
  // A window, but the server never came back (up_since unset): full share.
  auto fresh = make_pool({{}, {}});
  BalancerOptions options;
  options.slow_start = 10s;
  auto c = make_balancer(Algorithm::weighted_round_robin, fresh, 0, options);
  counts.clear();
  for (int i = 0; i < 100; ++i) ++counts[c->pick(ctx)->server];
  EXPECT_EQ(counts[1], 50);
}

}  // namespace
}  // namespace sb::balancer
