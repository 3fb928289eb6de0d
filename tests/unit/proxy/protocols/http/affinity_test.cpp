// Affinity over a pool snapshot: the cookie names its server by a token of
// the pool's and the server's names; source-ip hashes over eligible servers.

#include "proxy/protocols/http/affinity.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>

#include "proxy/protocols/http/header_rules.h"

namespace sb::runtime::http {
namespace {

balancer::PoolSnapshot pool_of(int n) {
  balancer::PoolSnapshot s;
  s.name = "cas";
  for (int i = 0; i < n; ++i) {
    balancer::ServerView v;
    v.id = 100 + static_cast<std::uint64_t>(i);
    v.name = "cas" + std::to_string(i);
    v.stats = std::make_shared<balancer::ServerStats>();
    s.servers.push_back(v);
  }
  return s;
}

TEST(CookieAffinity, TheTokenNamesItsServerInItsPoolOnly) {
  const auto s = pool_of(3);
  EXPECT_EQ(server_for_cookie(s, "cas", server_token("cas", "cas2")), 102u);
  EXPECT_EQ(server_for_cookie(s, "owa", server_token("cas", "cas2")), std::nullopt);
  EXPECT_EQ(server_for_cookie(s, "cas", server_token("cas", "gone")), std::nullopt);
  EXPECT_EQ(server_for_cookie(s, "cas", "not-a-token"), std::nullopt);
  EXPECT_EQ(server_for_cookie(s, "cas", ""), std::nullopt);
}

TEST(SourceAffinity, OnlyTheClientsOfAServerThatWentAwayMove) {
  auto s = pool_of(4);
  std::map<std::uint64_t, std::uint64_t> before;
  for (std::uint64_t key = 0; key < 2000; ++key) {
    const auto pick = server_for_source(s, "cas", key * 0x9e3779b97f4a7c15ull);
    ASSERT_TRUE(pick);
    before[key] = *pick;
  }
  // Every server gets a fair share (2000 / 4 = 500 each, give or take).
  std::map<std::uint64_t, int> share;
  for (const auto& [key, id] : before) ++share[id];
  ASSERT_EQ(share.size(), 4u);
  for (const auto& [id, n] : share) EXPECT_GT(n, 350) << id;

  s.servers[1].health = balancer::Health::down;
  for (const auto& [key, id] : before) {
    const auto pick = server_for_source(s, "cas", key * 0x9e3779b97f4a7c15ull);
    ASSERT_TRUE(pick);
    if (id == 101) {
      EXPECT_NE(*pick, 101u);
    } else {
      EXPECT_EQ(*pick, id) << "a client of a server that stayed moved";
    }
  }
}

TEST(SourceAffinity, NoEligibleServerNoPreference) {
  auto s = pool_of(2);
  for (auto& v : s.servers) v.admin = balancer::AdminState::disabled;
  EXPECT_EQ(server_for_source(s, "cas", 42), std::nullopt);
}

}  // namespace
}  // namespace sb::runtime::http
