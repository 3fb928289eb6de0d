// What a reload changes, from the two configurations alone.
#include "proxy/control/config_changes.h"

#include <gtest/gtest.h>

#include "tests/unit/proxy/config/config_test_util.h"

namespace sb::runtime {
namespace {

using config::testing_util::load_ok;

constexpr std::string_view kBefore = R"(
workers: 1
pools:
  relay:
    servers:
      - {address: 127.0.0.1:2525, name: hub1}
      - {address: 127.0.0.1:2526, name: hub2, state: drain}
  old:
    servers: [{address: 127.0.0.1:9000}]
listeners:
  smtp:
    listen: ["127.0.0.1:25"]
    protocol: tcp
    pool: relay
  legacy:
    listen: ["127.0.0.1:26"]
    protocol: tcp
    pool: old
)";

TEST(ConfigChanges, NothingChangesForTheSameFile) {
  const auto a = load_ok(kBefore);
  const auto c = config_changes(a, a);
  EXPECT_TRUE(c.pools_added.empty());
  EXPECT_TRUE(c.pools_removed.empty());
  EXPECT_TRUE(c.listeners_added.empty());
  EXPECT_TRUE(c.listeners_removed.empty());
  EXPECT_TRUE(c.need_restart.empty());
  // A drain set by the file is no change; one set through the admin API
  // (not in either file) is kept by the reload.
  EXPECT_TRUE(c.admin_changes.empty());
}

TEST(ConfigChanges, PoolsAndListenersAddedAndRemovedByName) {
  const auto a = load_ok(kBefore);
  const auto b = load_ok(R"(
workers: 1
pools:
  relay:
    servers:
      - {address: 127.0.0.1:2525, name: hub1}
      - {address: 127.0.0.1:2526, name: hub2, state: drain}
  submission:
    servers: [{address: 127.0.0.1:5870}]
listeners:
  smtp:
    listen: ["127.0.0.1:25"]
    protocol: tcp
    pool: relay
  msa:
    listen: ["127.0.0.1:587"]
    protocol: tcp
    pool: submission
)");
  const auto c = config_changes(a, b);
  EXPECT_EQ(c.pools_added, std::vector<std::string>{"submission"});
  EXPECT_EQ(c.pools_removed, std::vector<std::string>{"old"});
  EXPECT_EQ(c.listeners_added, std::vector<std::string>{"msa"});
  EXPECT_EQ(c.listeners_removed, std::vector<std::string>{"legacy"});
}

TEST(ConfigChanges, AServerStateChangedInTheFileIsApplied) {
  const auto a = load_ok(kBefore);
  const auto b = load_ok(R"(
workers: 1
pools:
  relay:
    servers:
      - {address: 127.0.0.1:2525, name: hub1, state: disabled}
      - {address: 127.0.0.1:2526, name: hub2}
  old:
    servers: [{address: 127.0.0.1:9000}]
listeners:
  smtp:
    listen: ["127.0.0.1:25"]
    protocol: tcp
    pool: relay
)");
  const auto c = config_changes(a, b);
  ASSERT_EQ(c.admin_changes.size(), 2u);
  EXPECT_EQ(c.admin_changes[0].server, "hub1");
  EXPECT_EQ(c.admin_changes[0].state, config::AdminState::disabled);
  EXPECT_EQ(c.admin_changes[1].server, "hub2");
  EXPECT_EQ(c.admin_changes[1].state, config::AdminState::enabled);
}

TEST(ConfigChanges, SettingsOfTheProcessNeedARestartAndSaySo) {
  const auto a = load_ok(kBefore);
  auto b = a;
  b.workers = 4;
  b.admin.listen.port = 9911;
  b.resolver.attempts = 5;
  const auto c = config_changes(a, b);
  ASSERT_EQ(c.need_restart.size(), 3u);
  EXPECT_EQ(c.need_restart[0], "workers: 1 -> 4 takes effect at the next start");
  EXPECT_NE(c.need_restart[1].find("admin.listen: 127.0.0.1:9901 -> 127.0.0.1:9911"),
            std::string::npos);
  EXPECT_NE(c.need_restart[2].find("resolver.attempts: 2 -> 5"), std::string::npos);
}

}  // namespace
}  // namespace sb::runtime
