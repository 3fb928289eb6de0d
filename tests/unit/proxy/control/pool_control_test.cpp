// The control plane's pool publishing: a health change, an admin action or a
// new membership becomes a new snapshot on every worker, servers keep their
// ids, and a held publication reaches no worker.
#include "proxy/control/pool_control.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/unit/proxy/config/config_test_util.h"

namespace sb::runtime {
namespace {

using config::testing_util::load_ok;

constexpr std::string_view kConfig = R"(
workers: 2
pools:
  web:
    balance: round-robin
    health: {check: none}
    servers:
      - {address: 127.0.0.1:8001, name: a}
      - {address: 127.0.0.1:8002, name: b}
      - {address: 127.0.0.1:8003, name: c}
  relay:
    balance: round-robin
    health: {check: none}
    servers:
      - {address: 127.0.0.1:2525, name: hub1}
listeners:
  web-vip:
    listen: ["127.0.0.1:8080"]
    protocol: tcp
    pool: web
  smtp:
    listen: ["127.0.0.1:2526"]
    protocol: tcp
    pool: relay
)";

health::ProbeResult failed(std::string detail) {
  health::ProbeResult r;
  r.ok = false;
  r.latency = std::chrono::microseconds(1500);
  r.detail = std::move(detail);
  r.transcript = {"S: 421 busy"};
  return r;
}

health::ProbeResult passed() {
  health::ProbeResult r;
  r.ok = true;
  r.latency = std::chrono::microseconds(800);
  r.detail = "connected";
  return r;
}

balancer::ServerView member(std::string name, std::string_view ip, std::uint16_t port,
                            int weight = 1) {
  balancer::ServerView v;
  v.name = std::move(name);
  v.address = std::string(ip) + ":" + std::to_string(port);
  v.ip = *net::IpAddress::parse(ip);
  v.port = port;
  v.weight = weight;
  return v;
}

class PoolControlTest : public ::testing::Test {
 protected:
  PoolControlTest() {
    for (unsigned w = 0; w < 2; ++w) {
      workers_.push_back(std::make_unique<Worker>(w, config::TuningConfig{}));
      // As Runtime::generation_for builds it, without listening addresses.
      WorkerGeneration gen;
      for (std::size_t p = 0; p < registry_.size(); ++p) {
        gen.pools.push_back({registry_.shared(p), registry_.at(p).snapshot});
      }
      workers_.back()->install(std::move(gen));
    }
  }

  // Runs what was posted to every worker; returns the handlers run in all.
  std::size_t run_workers() {
    std::size_t n = 0;
    for (auto& w : workers_) {
      w->io().restart();
      n += w->io().poll();
    }
    return n;
  }

  const PoolRuntime& pool(std::string_view name) const {
    return registry_.at(registry_.index_of(name));
  }
  balancer::Balancer& balancer_of(std::size_t worker, std::string_view name) {
    balancer::Balancer* b = workers_[worker]->balancer_for(pool(name));
    EXPECT_NE(b, nullptr);
    return *b;
  }
  const balancer::PoolSnapshot& seen_by(std::size_t worker, std::string_view name) {
    return balancer_of(worker, name).snapshot();
  }

  // The names a worker's balancer hands out over `n` picks.
  std::multiset<std::string> picks(std::size_t worker, std::string_view name, int n = 30) {
    balancer::Balancer& b = balancer_of(worker, name);
    std::multiset<std::string> out;
    for (int i = 0; i < n; ++i) {
      const auto pick = b.pick(balancer::PickContext{});
      out.insert(pick ? b.snapshot().servers.at(pick->server).name : std::string("<none>"));
    }
    return out;
  }

  static const balancer::ServerView& server(const balancer::PoolSnapshot& s,
                                            std::string_view name) {
    const auto it = std::find_if(s.servers.begin(), s.servers.end(),
                                 [&](const balancer::ServerView& v) { return v.name == name; });
    if (it == s.servers.end()) throw std::out_of_range("no server " + std::string(name));
    return *it;
  }
  std::uint64_t id_of(std::string_view pool_name, std::string_view name) const {
    return server(*pool(pool_name).snapshot, name).id;
  }
  static std::map<std::string, std::uint64_t> ids(const balancer::PoolSnapshot& s) {
    std::map<std::string, std::uint64_t> out;
    for (const auto& v : s.servers) out[v.name] = v.id;
    return out;
  }
  static std::vector<std::string> names(const balancer::PoolSnapshot& s) {
    std::vector<std::string> out;
    for (const auto& v : s.servers) out.push_back(v.name);
    return out;
  }

  boost::json::object status_of(std::string_view pool_name, std::string_view name) const {
    const boost::json::value status = control_.status();
    for (const auto& p : status.at("pools").as_array()) {
      if (p.at("name").as_string() != pool_name) continue;
      for (const auto& s : p.at("servers").as_array()) {
        if (s.at("name").as_string() == name) return s.as_object();
      }
    }
    throw std::out_of_range("no server " + std::string(name) + " in /status");
  }

  config::Config cfg_ = load_ok(kConfig);
  PoolRegistry registry_{cfg_};
  asio::io_context control_io_;
  std::vector<std::unique_ptr<Worker>> workers_;
  PoolControl control_{control_io_.get_executor(), registry_, workers_};
};

TEST_F(PoolControlTest, StartsFromTheConfiguredServersWithDistinctIds) {
  const auto& snap = *pool("web").snapshot;
  EXPECT_EQ(names(snap), (std::vector<std::string>{"a", "b", "c"}));
  std::set<std::uint64_t> seen;
  for (const auto& p : {"web", "relay"}) {
    for (const auto& s : pool(p).snapshot->servers) {
      EXPECT_NE(s.id, 0u) << s.name;
      EXPECT_TRUE(seen.insert(s.id).second) << "id " << s.id << " used twice";
      EXPECT_NE(s.stats, nullptr);
    }
  }
  for (std::size_t w = 0; w < workers_.size(); ++w) {
    EXPECT_EQ(seen_by(w, "web").generation, snap.generation);
    // Round robin: every server in turn.
    const auto picked = picks(w, "web", 30);
    for (const auto name : {"a", "b", "c"}) EXPECT_EQ(picked.count(name), 10u) << name;
  }
}

TEST_F(PoolControlTest, AServerThatWentDownIsPublishedToEveryWorker) {
  const auto before = ids(*pool("web").snapshot);
  const std::uint64_t gen = seen_by(0, "web").generation;
  const std::uint64_t b = id_of("web", "b");

  control_.apply_check(b, failed("connection refused"), health::Transition::went_down);

  // The registry has it at once; the workers once their loops run.
  EXPECT_EQ(server(*pool("web").snapshot, "b").health, balancer::Health::down);
  for (std::size_t w = 0; w < workers_.size(); ++w) {
    EXPECT_EQ(seen_by(w, "web").generation, gen) << "worker " << w;
  }
  EXPECT_EQ(run_workers(), workers_.size());  // one publication per worker

  for (std::size_t w = 0; w < workers_.size(); ++w) {
    const auto& snap = seen_by(w, "web");
    EXPECT_GT(snap.generation, gen) << "worker " << w;
    EXPECT_EQ(snap.generation, pool("web").snapshot->generation);
    EXPECT_EQ(server(snap, "b").health, balancer::Health::down);
    EXPECT_EQ(server(snap, "a").health, balancer::Health::up);
    EXPECT_EQ(server(snap, "c").health, balancer::Health::up);
    EXPECT_EQ(ids(snap), before);  // same servers, same ids
    const auto picked = picks(w, "web");
    EXPECT_EQ(picked.count("b"), 0u) << "worker " << w;
    EXPECT_EQ(picked.count("a") + picked.count("c"), picked.size());
    EXPECT_GT(picked.count("a"), 0u);
    EXPECT_GT(picked.count("c"), 0u);
  }
  // The other pool is not republished.
  EXPECT_EQ(seen_by(0, "relay").generation, 1u);
  EXPECT_EQ(server(*pool("web").snapshot, "b").stats->went_down.load(), 1u);

  const auto st = status_of("web", "b");
  EXPECT_EQ(st.at("state").as_string(), "down");
  EXPECT_EQ(st.at("health").as_string(), "down");
  EXPECT_EQ(st.at("last_check").at("result").as_string(), "fail");
  EXPECT_EQ(st.at("last_failure").at("detail").as_string(), "connection refused");
  EXPECT_EQ(control_.status().at("pools").as_array().at(0).at("servers_up").as_int64(), 2);
}

// The status page shows for how long a server has been up or down, apart
// from what the operator set: a drain moves `since`, not `health_since`; a
// health transition moves both; a check that changes nothing moves neither.
TEST_F(PoolControlTest, HealthSinceMovesWithTheHealthAloneNotWithTheAdminState) {
  const auto before = status_of("web", "b");
  EXPECT_EQ(before.at("health_since"), before.at("since"));
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // the times are in seconds

  ASSERT_EQ(control_.set_admin_state("web", "b", balancer::AdminState::drain).lookup,
            PoolControl::Lookup::ok);
  const auto drained = status_of("web", "b");
  EXPECT_EQ(drained.at("health_since"), before.at("health_since"));
  EXPECT_NE(drained.at("since"), before.at("since"));

  const std::uint64_t b = id_of("web", "b");
  control_.apply_check(b, failed("timed out"), health::Transition::none);
  EXPECT_EQ(status_of("web", "b").at("health_since"), before.at("health_since"));

  control_.apply_check(b, failed("connection refused"), health::Transition::went_down);
  const auto down = status_of("web", "b");
  EXPECT_EQ(down.at("health").as_string(), "down");
  EXPECT_EQ(down.at("admin_state").as_string(), "drain");
  EXPECT_NE(down.at("health_since"), before.at("health_since"));
}

TEST_F(PoolControlTest, ACheckWithoutTransitionIsRecordedButNotPublished) {
  const std::uint64_t gen = pool("web").snapshot->generation;
  const std::uint64_t a = id_of("web", "a");

  control_.apply_check(a, failed("timed out"), health::Transition::none);

  EXPECT_EQ(pool("web").snapshot->generation, gen);
  EXPECT_EQ(run_workers(), 0u);
  EXPECT_EQ(seen_by(0, "web").generation, gen);
  EXPECT_EQ(server(seen_by(0, "web"), "a").health, balancer::Health::up);
  const auto& stats = *server(*pool("web").snapshot, "a").stats;
  EXPECT_EQ(stats.checks[static_cast<std::size_t>(balancer::CheckResult::fail)].load(), 1u);
  const auto st = status_of("web", "a");
  EXPECT_EQ(st.at("state").as_string(), "up");
  EXPECT_EQ(st.at("last_check").at("result").as_string(), "fail");
  EXPECT_DOUBLE_EQ(st.at("last_check").at("latency_ms").as_double(), 1.5);
}

TEST_F(PoolControlTest, ALocalFaultIsCountedAsAnErrorAndNotAsTheServersFailure) {
  const std::uint64_t a = id_of("web", "a");
  auto r = failed("Too many open files during connect");
  r.local_fault = true;

  control_.apply_check(a, r, health::Transition::none);

  const auto& stats = *server(*pool("web").snapshot, "a").stats;
  EXPECT_EQ(stats.checks[static_cast<std::size_t>(balancer::CheckResult::error)].load(), 1u);
  EXPECT_EQ(stats.checks[static_cast<std::size_t>(balancer::CheckResult::fail)].load(), 0u);
  const auto st = status_of("web", "a");
  EXPECT_EQ(st.at("state").as_string(), "up");
  EXPECT_EQ(st.at("last_check").at("result").as_string(), "error");
  EXPECT_TRUE(st.at("last_failure").is_null());  // not the server's failure
}

TEST_F(PoolControlTest, AServerBackUpReturnsToTheRotation) {
  const std::uint64_t b = id_of("web", "b");
  control_.apply_check(b, failed("refused"), health::Transition::went_down);
  run_workers();
  const std::uint64_t down_gen = seen_by(0, "web").generation;
  const auto before_up = std::chrono::steady_clock::now();

  control_.apply_check(b, passed(), health::Transition::went_up);
  run_workers();

  for (std::size_t w = 0; w < workers_.size(); ++w) {
    const auto& snap = seen_by(w, "web");
    EXPECT_GT(snap.generation, down_gen);
    EXPECT_EQ(server(snap, "b").health, balancer::Health::up);
    EXPECT_EQ(server(snap, "b").id, b);
    // Slow start (when configured) ramps from the moment it came back.
    EXPECT_GE(server(snap, "b").up_since, before_up);
    EXPECT_GT(picks(w, "web").count("b"), 0u) << "worker " << w;
  }
  EXPECT_EQ(server(*pool("web").snapshot, "b").stats->went_up.load(), 1u);
}

TEST_F(PoolControlTest, ARepeatedTransitionPublishesNothingNew) {
  const std::uint64_t b = id_of("web", "b");
  control_.apply_check(b, failed("refused"), health::Transition::went_down);
  run_workers();
  const std::uint64_t gen = pool("web").snapshot->generation;

  control_.apply_check(b, failed("refused"), health::Transition::went_down);

  EXPECT_EQ(pool("web").snapshot->generation, gen);
  EXPECT_EQ(run_workers(), 0u);
  EXPECT_EQ(server(*pool("web").snapshot, "b").stats->went_down.load(), 1u);
}

TEST_F(PoolControlTest, DrainAndDisableTakeAServerOutOfNewPicks) {
  const auto before = ids(*pool("web").snapshot);
  std::uint64_t gen = seen_by(0, "web").generation;

  for (const auto state : {balancer::AdminState::drain, balancer::AdminState::disabled}) {
    const auto r = control_.set_admin_state("web", "c", state);
    ASSERT_EQ(r.lookup, PoolControl::Lookup::ok);
    EXPECT_EQ(r.server.at("admin_state").as_string(), balancer::to_string(state));
    EXPECT_EQ(r.server.at("state").as_string(), balancer::to_string(state));
    run_workers();
    for (std::size_t w = 0; w < workers_.size(); ++w) {
      const auto& snap = seen_by(w, "web");
      EXPECT_GT(snap.generation, gen);
      EXPECT_EQ(server(snap, "c").admin, state);
      EXPECT_EQ(server(snap, "c").health, balancer::Health::up);  // health is not touched
      EXPECT_EQ(ids(snap), before);
      const auto picked = picks(w, "web");
      EXPECT_EQ(picked.count("c"), 0u) << balancer::to_string(state) << ", worker " << w;
      EXPECT_GT(picked.count("a"), 0u);
      EXPECT_GT(picked.count("b"), 0u);
    }
    gen = seen_by(0, "web").generation;
  }

  const auto r = control_.set_admin_state("web", "c", balancer::AdminState::enabled);
  EXPECT_EQ(r.server.at("state").as_string(), "up");
  run_workers();
  EXPECT_GT(seen_by(1, "web").generation, gen);
  EXPECT_GT(picks(1, "web").count("c"), 0u);
}

TEST_F(PoolControlTest, AnAdminStateAlreadySetPublishesNothing) {
  const std::uint64_t gen = pool("web").snapshot->generation;
  const auto r = control_.set_admin_state("web", "a", balancer::AdminState::enabled);
  EXPECT_EQ(r.lookup, PoolControl::Lookup::ok);
  EXPECT_EQ(r.server.at("name").as_string(), "a");
  EXPECT_EQ(pool("web").snapshot->generation, gen);
  EXPECT_EQ(run_workers(), 0u);
}

TEST_F(PoolControlTest, UnknownPoolOrServerChangesNothing) {
  const std::uint64_t gen = pool("web").snapshot->generation;
  EXPECT_EQ(control_.set_admin_state("nope", "a", balancer::AdminState::drain).lookup,
            PoolControl::Lookup::no_pool);
  EXPECT_EQ(control_.set_admin_state("web", "hub1", balancer::AdminState::drain).lookup,
            PoolControl::Lookup::no_server);
  EXPECT_EQ(pool("web").snapshot->generation, gen);
  EXPECT_EQ(run_workers(), 0u);
}

TEST_F(PoolControlTest, IdsAndCountersFollowServersAcrossPublications) {
  const auto before = ids(*pool("web").snapshot);
  const auto stats_a = server(*pool("web").snapshot, "a").stats;
  control_.set_admin_state("web", "a", balancer::AdminState::drain);
  control_.apply_check(id_of("web", "b"), failed("x"), health::Transition::went_down);
  control_.set_admin_state("web", "a", balancer::AdminState::enabled);
  control_.apply_check(id_of("web", "b"), passed(), health::Transition::went_up);
  run_workers();
  for (std::size_t w = 0; w < workers_.size(); ++w) {
    const auto& snap = seen_by(w, "web");
    EXPECT_EQ(snap.generation, 5u);  // 1 + four publications
    EXPECT_EQ(ids(snap), before);
    EXPECT_EQ(server(snap, "a").stats, stats_a);
  }
}

TEST_F(PoolControlTest, AHeldPublicationReachesNoWorker) {
  const std::uint64_t gen = seen_by(0, "web").generation;
  control_.hold_publication(true);
  control_.set_admin_state("web", "a", balancer::AdminState::drain);
  control_.apply_check(id_of("web", "b"), failed("refused"), health::Transition::went_down);

  // The registry has both changes; no worker was told.
  EXPECT_EQ(pool("web").snapshot->generation, gen + 2);
  EXPECT_EQ(run_workers(), 0u);
  EXPECT_EQ(seen_by(0, "web").generation, gen);
  EXPECT_EQ(picks(0, "web").count("a"), 10u);

  // Releasing the hold publishes nothing by itself (a reload installs every
  // pool at once instead)...
  control_.hold_publication(false);
  EXPECT_EQ(run_workers(), 0u);
  EXPECT_EQ(seen_by(0, "web").generation, gen);

  // ...and the next publication carries every held change.
  control_.apply_check(id_of("web", "c"), failed("refused"), health::Transition::went_down);
  EXPECT_EQ(run_workers(), workers_.size());
  for (std::size_t w = 0; w < workers_.size(); ++w) {
    const auto& snap = seen_by(w, "web");
    EXPECT_EQ(snap.generation, gen + 3);
    EXPECT_EQ(server(snap, "a").admin, balancer::AdminState::drain);
    EXPECT_EQ(server(snap, "b").health, balancer::Health::down);
    EXPECT_EQ(server(snap, "c").health, balancer::Health::down);
    EXPECT_EQ(picks(w, "web").count("<none>"), 30u);  // a drained, b and c down
  }
}

TEST_F(PoolControlTest, AHeldChangeReachesTheWorkersWithTheNextInstall) {
  control_.hold_publication(true);
  control_.set_admin_state("web", "b", balancer::AdminState::disabled);
  control_.hold_publication(false);
  EXPECT_EQ(run_workers(), 0u);

  // What a reload does after releasing the hold (Runtime::generation_for).
  for (auto& w : workers_) {
    WorkerGeneration gen;
    for (std::size_t p = 0; p < registry_.size(); ++p) {
      gen.pools.push_back({registry_.shared(p), registry_.at(p).snapshot});
    }
    w->post_install(std::move(gen));
  }
  EXPECT_EQ(run_workers(), workers_.size());
  for (std::size_t w = 0; w < workers_.size(); ++w) {
    EXPECT_EQ(seen_by(w, "web").generation, pool("web").snapshot->generation);
    EXPECT_EQ(server(seen_by(w, "web"), "b").admin, balancer::AdminState::disabled);
    EXPECT_EQ(picks(w, "web").count("b"), 0u);
  }
}

TEST_F(PoolControlTest, NewMembersJoinAndServersThatStayKeepTheirIds) {
  std::vector<std::pair<std::size_t, std::string>> added;
  std::vector<std::uint64_t> removed;
  control_.set_membership_hooks(
      {[&](std::size_t p, const balancer::ServerView& s) { added.emplace_back(p, s.name); },
       [&](std::uint64_t id) { removed.push_back(id); }});
  const std::size_t web = registry_.index_of("web");
  const auto before = ids(*pool("web").snapshot);
  const auto stats_c = server(*pool("web").snapshot, "c").stats;
  // b is down before the change: a server that stays keeps its health.
  control_.apply_check(before.at("b"), failed("refused"), health::Transition::went_down);
  run_workers();
  const std::uint64_t gen = seen_by(0, "web").generation;

  // a leaves; b and c stay (c with a new weight); d joins.
  EXPECT_TRUE(
      control_.set_members(web,
                           {member("b", "127.0.0.1", 8002), member("c", "127.0.0.1", 8003, 5),
                            member("d", "127.0.0.1", 8004)},
                           "test"));
  EXPECT_EQ(run_workers(), workers_.size());

  for (std::size_t w = 0; w < workers_.size(); ++w) {
    const auto& snap = seen_by(w, "web");
    EXPECT_GT(snap.generation, gen);
    EXPECT_EQ(names(snap), (std::vector<std::string>{"b", "c", "d"}));
    EXPECT_EQ(server(snap, "b").id, before.at("b"));
    EXPECT_EQ(server(snap, "c").id, before.at("c"));
    EXPECT_EQ(server(snap, "c").stats, stats_c);
    EXPECT_EQ(server(snap, "c").weight, 5);
    EXPECT_EQ(server(snap, "b").health, balancer::Health::down);
    const auto& d = server(snap, "d");
    EXPECT_NE(d.id, 0u);
    for (const auto& [name, id] : before) EXPECT_NE(d.id, id) << name;
    EXPECT_NE(d.id, id_of("relay", "hub1"));
    EXPECT_NE(d.stats, nullptr);
    EXPECT_EQ(d.health, balancer::Health::up);  // assumed up until checked
    const auto picked = picks(w, "web");
    EXPECT_EQ(picked.count("a"), 0u);
    EXPECT_EQ(picked.count("b"), 0u);
    EXPECT_GT(picked.count("c"), 0u);
    EXPECT_GT(picked.count("d"), 0u);
  }
  EXPECT_EQ(added, (std::vector<std::pair<std::size_t, std::string>>{{web, "d"}}));
  EXPECT_EQ(removed, std::vector<std::uint64_t>{before.at("a")});

  // The server that left is no longer followed: its late check result
  // publishes nothing.
  const std::uint64_t after = pool("web").snapshot->generation;
  control_.apply_check(before.at("a"), failed("late"), health::Transition::went_down);
  EXPECT_EQ(pool("web").snapshot->generation, after);
  EXPECT_EQ(run_workers(), 0u);
  // One that stays is still followed by its id, at its new index.
  control_.apply_check(before.at("c"), failed("refused"), health::Transition::went_down);
  run_workers();
  EXPECT_EQ(server(seen_by(0, "web"), "c").health, balancer::Health::down);
  EXPECT_EQ(server(seen_by(0, "web"), "d").health, balancer::Health::up);
}

TEST_F(PoolControlTest, TheSameMembersPublishNothing) {
  const std::size_t web = registry_.index_of("web");
  const std::uint64_t gen = pool("web").snapshot->generation;
  EXPECT_FALSE(
      control_.set_members(web, {member("a", "127.0.0.1", 8001), member("b", "127.0.0.1", 8002),
                                 member("c", "127.0.0.1", 8003)}));
  EXPECT_EQ(pool("web").snapshot->generation, gen);
  EXPECT_EQ(run_workers(), 0u);
}

TEST_F(PoolControlTest, AServerNamedTwiceIsOneServer) {
  const std::size_t web = registry_.index_of("web");
  const auto before = ids(*pool("web").snapshot);
  const std::uint64_t gen = pool("web").snapshot->generation;
  // b twice (say, two MX records for one exchange): still the same three.
  EXPECT_FALSE(
      control_.set_members(web, {member("a", "127.0.0.1", 8001), member("b", "127.0.0.1", 8002),
                                 member("b", "127.0.0.1", 8002), member("c", "127.0.0.1", 8003)}));
  EXPECT_EQ(pool("web").snapshot->generation, gen);
  // A new server named twice joins once, with one id of its own.
  EXPECT_TRUE(
      control_.set_members(web, {member("a", "127.0.0.1", 8001), member("b", "127.0.0.1", 8002),
                                 member("c", "127.0.0.1", 8003), member("d", "127.0.0.1", 8004),
                                 member("d", "127.0.0.1", 8004)}));
  run_workers();
  const auto& seen = seen_by(0, "web");
  ASSERT_EQ(seen.servers.size(), 4u);
  EXPECT_EQ(ids(seen).at("b"), before.at("b"));
  // Health reaches the one d there is.
  const auto d = ids(seen).at("d");
  control_.apply_check(d, failed("refused"), health::Transition::went_down);
  run_workers();
  EXPECT_EQ(server(seen_by(0, "web"), "d").health, balancer::Health::down);
}

TEST_F(PoolControlTest, AServerAtANewAddressIsANewServer) {
  const std::size_t web = registry_.index_of("web");
  const auto before = ids(*pool("web").snapshot);
  EXPECT_TRUE(
      control_.set_members(web, {member("a", "127.0.0.1", 8001), member("b", "127.0.0.2", 8002),
                                 member("c", "127.0.0.1", 8003)}));
  run_workers();
  const auto after = ids(seen_by(0, "web"));
  EXPECT_EQ(after.at("a"), before.at("a"));
  EXPECT_EQ(after.at("c"), before.at("c"));
  EXPECT_NE(after.at("b"), before.at("b"));
  EXPECT_EQ(server(seen_by(0, "web"), "b").ip, *net::IpAddress::parse("127.0.0.2"));
}

TEST_F(PoolControlTest, AnUncheckedEjectionEndsAfterItsTime) {
  const std::uint64_t b = id_of("web", "b");
  control_.eject_unchecked(b, std::chrono::milliseconds(1), "outlier");
  run_workers();
  EXPECT_EQ(server(seen_by(0, "web"), "b").health, balancer::Health::down);
  EXPECT_EQ(picks(0, "web").count("b"), 0u);

  // The control loop runs the ejection's timer, then has nothing left.
  control_io_.run_for(std::chrono::seconds(10));
  ASSERT_TRUE(control_io_.stopped()) << "the ejection timer did not fire";
  run_workers();
  EXPECT_EQ(server(seen_by(0, "web"), "b").health, balancer::Health::up);
  EXPECT_GT(picks(0, "web").count("b"), 0u);
}

}  // namespace
}  // namespace sb::runtime
