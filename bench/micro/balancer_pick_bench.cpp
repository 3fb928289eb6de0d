// Pick latency per algorithm at 3, 100 and 1000 servers (issue 3's target:
// under 50 ns for round-robin, weighted-round-robin and maglev at 100).
// Build: cmake -DSWITCHBOARD_MICROBENCH=ON ... && build/bench/micro/balancer_pick_bench
#include <benchmark/benchmark.h>

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "balancer/balancer.h"

namespace {

using namespace sb::balancer;

std::shared_ptr<PoolSnapshot> pool(int n) {
  auto s = std::make_shared<PoolSnapshot>();
  for (int i = 0; i < n; ++i) {
    ServerView v;
    v.name = "server-" + std::to_string(i);
    v.weight = i % 4 + 1;
    v.stats = std::make_shared<ServerStats>();
    v.stats->active = i % 13;
    s->servers.push_back(std::move(v));
  }
  return s;
}

void BM_Pick(benchmark::State& state, Algorithm algorithm) {
  auto b = make_balancer(algorithm, pool(static_cast<int>(state.range(0))), 1, {});
  std::array<std::uint8_t, 4> addr = {10, 1, 2, 3};
  std::uint32_t i = 0;
  for (auto _ : state) {
    addr[3] = static_cast<std::uint8_t>(++i);
    addr[2] = static_cast<std::uint8_t>(i >> 8);
    PickContext ctx;
    ctx.client_address = addr;
    benchmark::DoNotOptimize(b->pick(ctx));
  }
}

#define SB_PICK_BENCH(name, algo) \
  BENCHMARK_CAPTURE(BM_Pick, name, Algorithm::algo)->Arg(3)->Arg(100)->Arg(1000)

SB_PICK_BENCH(round_robin, round_robin);
SB_PICK_BENCH(weighted_round_robin, weighted_round_robin);
SB_PICK_BENCH(least_connections, least_connections);
SB_PICK_BENCH(random_two_choices, random_two_choices);
SB_PICK_BENCH(source_ip, source_ip);
SB_PICK_BENCH(source_network, source_network);
SB_PICK_BENCH(maglev, maglev);
SB_PICK_BENCH(first_available, first_available);

}  // namespace

BENCHMARK_MAIN();
