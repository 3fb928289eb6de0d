// pick() allocates nothing, for every algorithm (docs/architecture.md): a
// counting global operator new in this test binary alone.
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <cstdlib>
#include <new>

#include "balancer/balancer.h"
#include "tests/unit/balancer/pool_fixture.h"

namespace {
std::atomic<long> g_allocations{0};
}  // namespace

void* operator new(std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}

namespace sb::balancer {
namespace {

using testing_util::make_pool;
using testing_util::ServerSpec;

class PickAllocations : public ::testing::TestWithParam<Algorithm> {};

TEST_P(PickAllocations, PickAllocatesNothing) {
  std::vector<ServerSpec> specs(100);
  for (std::size_t i = 0; i < specs.size(); ++i) {
    specs[i].weight = static_cast<int>(i % 5) + 1;
    specs[i].priority = i < 90 ? 0 : 1;
    if (i % 7 == 0) specs[i].health = Health::down;
  }
  const long at_start = g_allocations.load();
  auto b = make_balancer(GetParam(), make_pool(specs), 3, {});
  ASSERT_GT(g_allocations.load(), at_start) << "the counting operator new is not in use";
  std::array<std::uint8_t, 4> addr = {10, 0, 0, 1};
  const std::array<ServerIndex, 2> tried = {1, 2};
  const long before = g_allocations.load();
  for (int i = 0; i < 10000; ++i) {
    addr[3] = static_cast<std::uint8_t>(i);
    PickContext ctx;
    ctx.client_address = addr;
    ctx.tried = tried;
    if (i % 2) ctx.hash_key = static_cast<std::uint64_t>(i);
    ASSERT_TRUE(b->pick(ctx).has_value());
  }
  EXPECT_EQ(g_allocations.load() - before, 0);
}

INSTANTIATE_TEST_SUITE_P(Balance, PickAllocations,
                         ::testing::Values(Algorithm::round_robin, Algorithm::weighted_round_robin,
                                           Algorithm::least_connections,
                                           Algorithm::random_two_choices, Algorithm::source_ip,
                                           Algorithm::source_network, Algorithm::maglev,
                                           Algorithm::first_available));

}  // namespace
}  // namespace sb::balancer
