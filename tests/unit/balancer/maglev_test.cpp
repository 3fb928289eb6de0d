// Affinity by hashing: source-ip, source-network and maglev.
#include "balancer/maglev.h"

#include <gtest/gtest.h>

#include <array>
#include <map>

#include "balancer/hash.h"
#include "tests/unit/balancer/pool_fixture.h"

namespace sb::balancer {
namespace {

using testing_util::make_pool;
using testing_util::ServerSpec;

std::vector<ServerSpec> servers(int n) {
  return std::vector<ServerSpec>(n);
}

// The server each of `keys` L7 keys maps to.
std::vector<std::string> assignment(const std::shared_ptr<PoolSnapshot>& pool, int keys) {
  HashBalancer b(pool, HashKey::key_or_address, {}, "maglev");
  std::vector<std::string> out;
  for (int k = 0; k < keys; ++k) {
    PickContext ctx;
    ctx.hash_key = static_cast<std::uint64_t>(k);
    out.push_back(pool->servers[b.pick(ctx)->server].name);
  }
  return out;
}

TEST(Maglev, TableSizeIsAPrimeOfAtLeastHundredPerServer) {
  EXPECT_EQ(next_prime(100), 101u);
  EXPECT_EQ(next_prime(1000), 1009u);
  for (std::size_t n : {1u, 7u, 50u, 51u, 655u, 656u, 7000u}) {
    const auto m = table_size(n);
    EXPECT_GE(m, 100 * n);
    EXPECT_EQ(next_prime(m), m);
  }
  // The same size across small membership changes: keys keep their slots.
  EXPECT_EQ(table_size(3), table_size(4));
  auto pool = make_pool(servers(7));
  std::vector<ServerIndex> members = {0, 1, 2, 3, 4, 5, 6};
  EXPECT_EQ(MaglevTable(*pool, members).size(), 5003u);
}

TEST(Maglev, ServerGoingDownMovesOnlyItsOwnKeys) {
  for (int n : {3, 5, 10}) {
    auto pool = make_pool(servers(n));
    const int keys = 100000;
    const auto before = assignment(pool, keys);
    pool->servers[1].health = Health::down;
    const auto after = assignment(pool, keys);
    int moved = 0;
    for (int k = 0; k < keys; ++k) {
      if (before[k] == after[k]) continue;
      ++moved;
      ASSERT_EQ(before[k], "s1") << "a key moved between two servers that stayed up";
    }
    EXPECT_LE(moved, keys * (1.0 / n + 0.02)) << n;
  }
}

TEST(Maglev, AddingAServerMovesAboutItsShare) {
  for (int n : {3, 5, 10}) {
    const int keys = 100000;
    const auto before = assignment(make_pool(servers(n)), keys);
    const auto after = assignment(make_pool(servers(n + 1)), keys);
    int moved = 0;
    for (int k = 0; k < keys; ++k) moved += before[k] != after[k];
    EXPECT_LE(moved, keys * (1.0 / (n + 1) + 0.02)) << n;
  }
}

TEST(Maglev, SharesFollowWeights) {
  auto pool = make_pool({{.weight = 1}, {.weight = 2}, {.weight = 3}});
  std::map<std::string, int> counts;
  for (const auto& s : assignment(pool, 60000)) ++counts[s];
  EXPECT_NEAR(counts["s0"], 10000, 10000 * 0.05);
  EXPECT_NEAR(counts["s1"], 20000, 20000 * 0.05);
  EXPECT_NEAR(counts["s2"], 30000, 30000 * 0.05);
}

TEST(Maglev, RetriesFollowHashOrderAndAreStable) {
  auto pool = make_pool(servers(5));
  HashBalancer a(pool, HashKey::key_or_address, {}, "maglev");
  HashBalancer b(pool, HashKey::key_or_address, {}, "maglev");
  for (std::uint64_t k = 0; k < 500; ++k) {
    std::vector<ServerIndex> tried;
    PickContext ctx;
    ctx.hash_key = k;
    const auto first = a.pick(ctx)->server;
    tried.push_back(first);
    ctx.tried = tried;
    EXPECT_EQ(a.pick(ctx)->server, b.pick(ctx)->server);
    // The retry is where the key goes when its first server is down.
    auto down = make_pool(servers(5));
    down->servers[first].health = Health::down;
    HashBalancer c(down, HashKey::key_or_address, {}, "maglev");
    PickContext plain;
    plain.hash_key = k;
    EXPECT_EQ(a.pick(ctx)->server, c.pick(plain)->server);
  }
}

TEST(SourceIp, SameAddressSameServerAndAddressesSpread) {
  auto pool = make_pool(servers(4));
  HashBalancer b(pool, HashKey::address, {}, "source-ip");
  std::map<ServerIndex, int> counts;
  for (int i = 0; i < 4000; ++i) {
    std::array<std::uint8_t, 4> addr = {192, 0, static_cast<std::uint8_t>(i >> 8),
                                        static_cast<std::uint8_t>(i)};
    PickContext ctx;
    ctx.client_address = addr;
    const auto s = b.pick(ctx)->server;
    ++counts[s];
    for (int again = 0; again < 3; ++again) EXPECT_EQ(b.pick(ctx)->server, s);
  }
  for (auto [s, n] : counts) EXPECT_NEAR(n, 1000, 200) << s;
}

TEST(SourceIp, Ipv6AddressesAreStableToo) {
  HashBalancer b(make_pool(servers(3)), HashKey::address, {}, "source-ip");
  std::array<std::uint8_t, 16> addr = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9};
  PickContext ctx;
  ctx.client_address = addr;
  const auto s = b.pick(ctx)->server;
  for (int i = 0; i < 10; ++i) EXPECT_EQ(b.pick(ctx)->server, s);
}

TEST(SourceNetwork, GroupsASlash24AndSpreadsNetworks) {
  HashBalancer b(make_pool(servers(4)), HashKey::network, {}, "source-network");
  std::map<ServerIndex, int> networks;
  for (int net = 0; net < 2000; ++net) {
    std::array<std::uint8_t, 4> addr = {10, static_cast<std::uint8_t>(net >> 8),
                                        static_cast<std::uint8_t>(net), 1};
    PickContext ctx;
    ctx.client_address = addr;
    const auto s = b.pick(ctx)->server;
    ++networks[s];
    for (int host : {2, 77, 254}) {
      addr[3] = static_cast<std::uint8_t>(host);
      EXPECT_EQ(b.pick(ctx)->server, s) << "net " << net << " host " << host;
    }
  }
  for (auto [s, n] : networks) EXPECT_NEAR(n, 500, 120) << s;
}

TEST(SourceNetwork, PrefixIsConfigurable) {
  BalancerOptions opts;
  opts.source_prefix_v4 = 16;
  opts.source_prefix_v6 = 32;
  HashBalancer b(make_pool(servers(5)), HashKey::network, opts, "source-network");
  std::array<std::uint8_t, 4> a = {172, 16, 1, 1};
  PickContext ctx;
  ctx.client_address = a;
  const auto s = b.pick(ctx)->server;
  a = {172, 16, 200, 9};
  EXPECT_EQ(b.pick(ctx)->server, s);
  std::array<std::uint8_t, 16> v6 = {0x20, 0x01, 0x0d, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 9};
  ctx.client_address = v6;
  const auto s6 = b.pick(ctx)->server;
  v6[5] = 0xff;  // beyond /32
  v6[15] = 1;
  EXPECT_EQ(b.pick(ctx)->server, s6);
}

TEST(Hash, StableAcrossRunsAndBuilds) {
  // Affinity must survive restarts: pin the hash of a known input.
  const std::uint8_t bytes[] = {192, 0, 2, 1};
  EXPECT_EQ(hash_bytes(bytes, 4), hash_bytes(bytes, 4));
  EXPECT_NE(hash_bytes(bytes, 4), hash_bytes(bytes, 16));
  EXPECT_EQ(mix64(0), 0xe220a8397b1dcdafull);
}

}  // namespace
}  // namespace sb::balancer
