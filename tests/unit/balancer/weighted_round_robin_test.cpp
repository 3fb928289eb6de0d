#include "balancer/weighted_round_robin.h"

#include <gtest/gtest.h>

#include <map>

#include "tests/unit/balancer/pool_fixture.h"

namespace sb::balancer {
namespace {

using testing_util::make_pool;

TEST(WeightedRoundRobin, SmoothSequenceHasNoBurstToTheHeaviest) {
  WeightedRoundRobin b(make_pool({{.weight = 5}, {.weight = 1}, {.weight = 1}}), {});
  std::vector<ServerIndex> seq;
  for (int i = 0; i < 7 * 20; ++i) seq.push_back(b.pick({})->server);
  int run = 0, longest = 0;
  for (std::size_t i = 0; i < seq.size(); ++i) {
    run = (i > 0 && seq[i] == seq[i - 1]) ? run + 1 : 1;
    longest = std::max(longest, run);
  }
  EXPECT_LT(longest, 5);
  // Exactly 5:1:1 over each period of 7.
  std::map<ServerIndex, int> counts;
  for (int i = 0; i < 7; ++i) ++counts[seq[i]];
  EXPECT_EQ(counts, (std::map<ServerIndex, int>{{0, 5}, {1, 1}, {2, 1}}));
}

TEST(WeightedRoundRobin, SharesFollowWeightsWithinTwoPercent) {
  WeightedRoundRobin b(make_pool({{.weight = 1}, {.weight = 2}, {.weight = 3}}), {});
  std::map<ServerIndex, int> counts;
  const int picks = 60000;
  for (int i = 0; i < picks; ++i) ++counts[b.pick({})->server];
  for (ServerIndex s = 0; s < 3; ++s) {
    const double want = picks * (s + 1) / 6.0;
    EXPECT_NEAR(counts[s], want, want * 0.02) << "server " << s;
  }
}

TEST(WeightedRoundRobin, TriedServersKeepTheRestProportional) {
  WeightedRoundRobin b(make_pool({{.weight = 1}, {.weight = 1}, {.weight = 3}}), {});
  const std::vector<ServerIndex> tried = {2};
  std::map<ServerIndex, int> counts;
  for (int i = 0; i < 1000; ++i) {
    PickContext ctx;
    ctx.tried = tried;
    ++counts[b.pick(ctx)->server];
  }
  EXPECT_EQ(counts.count(2), 0u);
  EXPECT_NEAR(counts[0], 500, 10);
}

}  // namespace
}  // namespace sb::balancer
