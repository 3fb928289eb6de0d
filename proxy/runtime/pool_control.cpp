#include "proxy/runtime/pool_control.h"

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/json.hpp>

#include "balancer/balancer.h"
#include "balancer/hash.h"
#include "proxy/net/cidr.h"

namespace sb::runtime {
namespace json = boost::json;

namespace {

std::string iso8601(std::chrono::system_clock::time_point t) {
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}Z", fmt::gmtime(std::chrono::system_clock::to_time_t(t)));
}

// Stateful algorithms answer from a fresh rotation; say so rather than
// pretend to know a worker's cursor.
std::string_view how(balancer::Algorithm a) {
  switch (a) {
    case balancer::Algorithm::round_robin:
    case balancer::Algorithm::weighted_round_robin:
      return "rotation: each worker keeps its own turn; shown is the start of a fresh rotation";
    case balancer::Algorithm::least_connections:
      return "fewest active connections per unit of weight, now";
    case balancer::Algorithm::random_two_choices:
      return "random: shown is one draw; the less loaded of two random servers";
    case balancer::Algorithm::source_ip:
      return "hash of the client address";
    case balancer::Algorithm::source_network:
      return "hash of the client network";
    case balancer::Algorithm::maglev:
      return "Maglev hash of the key, else of the client address";
    case balancer::Algorithm::first_available:
      return "first eligible server in configuration order";
  }
  return "";
}

}  // namespace

PoolControl::PoolControl(asio::any_io_executor control, PoolRegistry& pools,
                         std::vector<std::unique_ptr<Worker>>& workers)
    : control_(std::move(control)), pools_(pools), workers_(workers) {
  const auto now = std::chrono::system_clock::now();
  for (std::size_t i = 0; i < pools_.size(); ++i) {
    since_.emplace_back(pools_.at(i).snapshot->servers.size(), now);
    checks_.emplace_back(pools_.at(i).snapshot->servers.size());
  }
}

std::optional<std::size_t> PoolControl::find_pool(std::string_view name) const {
  for (std::size_t i = 0; i < pools_.size(); ++i) {
    if (pools_.at(i).config.name == name) return i;
  }
  return std::nullopt;
}

json::value PoolControl::server_json(std::size_t pool, std::size_t server) const {
  const balancer::ServerView& s = pools_.at(pool).snapshot->servers[server];
  json::object o;
  o["name"] = s.name;
  o["address"] = s.address;
  o["state"] = balancer::to_string(s.state());
  o["admin_state"] = balancer::to_string(s.admin);
  o["health"] = s.health == balancer::Health::up ? "up" : "down";
  o["weight"] = s.weight;
  o["priority"] = s.priority;
  o["active_connections"] = s.stats->active.load(std::memory_order_relaxed);
  o["connections_total"] = s.stats->connections_total.load(std::memory_order_relaxed);
  o["since"] = iso8601(since_[pool][server]);
  const CheckRecord& c = checks_[pool][server];
  if (c.any) {
    o["last_check"] =
        json::object{{"result", c.result}, {"latency_ms", c.latency_ms}, {"detail", c.detail}};
  } else {
    o["last_check"] = nullptr;  // no check has finished yet (or checks are off)
  }
  if (c.failed_once) {
    json::array transcript;
    for (const auto& line : c.failure_transcript) transcript.emplace_back(line);
    o["last_failure"] = json::object{{"at", iso8601(c.failure_at)},
                                     {"detail", c.failure_detail},
                                     {"transcript", std::move(transcript)}};
  } else {
    o["last_failure"] = nullptr;
  }
  return o;
}

PoolControl::ActionResult PoolControl::set_admin_state(std::string_view pool_name,
                                                       std::string_view server_name,
                                                       balancer::AdminState state) {
  ActionResult out;
  const auto p = find_pool(pool_name);
  if (!p) {
    out.lookup = Lookup::no_pool;
    return out;
  }
  PoolRuntime& pool = pools_.at(*p);
  const auto& servers = pool.snapshot->servers;
  auto it = std::find_if(servers.begin(), servers.end(),
                         [&](const balancer::ServerView& s) { return s.name == server_name; });
  if (it == servers.end()) {
    out.lookup = Lookup::no_server;
    return out;
  }
  const std::size_t index = static_cast<std::size_t>(it - servers.begin());
  if (it->admin != state) {
    // A new immutable snapshot: same servers and counters, one state changed.
    auto next = std::make_shared<balancer::PoolSnapshot>(*pool.snapshot);
    balancer::ServerView& changed = next->servers[index];
    const auto before = changed.state();
    const bool was_eligible = changed.eligible();
    changed.admin = state;
    if (changed.state() != before) since_[*p][index] = std::chrono::system_clock::now();
    // Back in rotation: slow start (if the pool has a window) ramps from now.
    if (!was_eligible && changed.eligible()) changed.up_since = std::chrono::steady_clock::now();
    spdlog::info("pool {}: server {} set to {} by the admin API", pool.config.name, changed.name,
                 balancer::to_string(state));
    publish(*p, std::move(next));  // `it` points into the old snapshot: not used after this
  }
  out.server = server_json(*p, index);
  return out;
}

void PoolControl::publish(std::size_t pool, std::shared_ptr<balancer::PoolSnapshot> next) {
  PoolRuntime& p = pools_.at(pool);
  next->generation = p.snapshot->generation + 1;
  p.snapshot = next;
  for (auto& w : workers_) w->publish(pool, next);
}

void PoolControl::apply_check(std::size_t pool, std::size_t server,
                              const health::ProbeResult& result, health::Transition transition) {
  CheckRecord& c = checks_[pool][server];
  c.any = true;
  c.result = result.ok ? "pass" : result.timed_out ? "timeout" : "fail";
  c.latency_ms = static_cast<double>(result.latency.count()) / 1000.0;
  c.detail = result.detail;
  if (!result.ok) {
    c.failed_once = true;
    c.failure_at = std::chrono::system_clock::now();
    c.failure_detail = result.detail;
    c.failure_transcript = result.transcript;
  }
  if (transition == health::Transition::none) return;
  set_health(pool, server, transition == health::Transition::went_up,
             fmt::format("{} after {:.1f}ms", result.detail, c.latency_ms));
}

void PoolControl::set_health(std::size_t pool, std::size_t server, bool up, std::string_view why) {
  PoolRuntime& p = pools_.at(pool);
  auto next = std::make_shared<balancer::PoolSnapshot>(*p.snapshot);
  balancer::ServerView& s = next->servers[server];
  if ((s.health == balancer::Health::up) == up) return;
  s.health = up ? balancer::Health::up : balancer::Health::down;
  // Back in rotation: slow start (if the pool has a window) ramps from now.
  if (up && s.eligible()) s.up_since = std::chrono::steady_clock::now();
  since_[pool][server] = std::chrono::system_clock::now();
  spdlog::warn("pool {}: {} {}: {}", p.config.name, s.name, up ? "up" : "down", why);
  publish(pool, std::move(next));
}

void PoolControl::eject_unchecked(std::size_t pool, std::size_t server,
                                  std::chrono::milliseconds ejection_time,
                                  const std::string& reason) {
  set_health(pool, server, false, reason);
  auto timer = std::make_shared<asio::steady_timer>(control_, ejection_time);
  timer->async_wait([this, timer, pool, server, ejection_time](const error_code& ec) {
    if (ec) return;
    set_health(pool, server, true,
               fmt::format("ejection of {}ms over (no active check)", ejection_time.count()));
  });
}

json::value PoolControl::status() const {
  json::array pools;
  for (std::size_t i = 0; i < pools_.size(); ++i) {
    const PoolRuntime& pool = pools_.at(i);
    json::array servers;
    int up = 0;
    for (std::size_t s = 0; s < pool.snapshot->servers.size(); ++s) {
      up += pool.snapshot->servers[s].state() == balancer::EffectiveState::up;
      servers.push_back(server_json(i, s));
    }
    json::object o;
    o["name"] = pool.config.name;
    o["balance"] = config::to_string(pool.config.balance);
    o["servers_up"] = up;
    o["retries_total"] = pool.stats.retries.load(std::memory_order_relaxed);
    o["exhausted_total"] = pool.stats.exhausted.load(std::memory_order_relaxed);
    o["servers"] = std::move(servers);
    pools.push_back(std::move(o));
  }
  json::object root;
  root["version"] = SWITCHBOARD_VERSION;
  root["pools"] = std::move(pools);
  return root;
}

PoolControl::DryRun PoolControl::dry_run(std::string_view pool_name, std::string_view client,
                                         std::optional<std::string_view> key) const {
  DryRun out;
  const auto p = find_pool(pool_name);
  if (!p) {
    out.lookup = Lookup::no_pool;
    return out;
  }
  const auto ip = net::IpBytes::parse(client);
  if (!ip) {
    out.error = fmt::format("client \"{}\" is not an IP address", client);
    return out;
  }
  const net::IpBytes addr = ip->unmapped();
  const PoolRuntime& pool = pools_.at(*p);
  auto balancer = balancer::make_balancer(pool.algorithm, pool.snapshot, 0, pool.options);
  balancer::PickContext ctx;
  ctx.client_address = std::span<const std::uint8_t>(addr.bytes.data(), addr.v6 ? 16 : 4);
  if (key) ctx.hash_key = balancer::affinity_key(*key);
  ctx.now = std::chrono::steady_clock::now();
  const auto pick = balancer->pick(ctx);

  json::object o;
  o["pool"] = pool.config.name;
  o["client"] = addr.to_string();
  o["algorithm"] = balancer->algorithm();
  o["how"] = how(pool.algorithm);
  if (key) o["key"] = fmt::format("{:016x}", *ctx.hash_key);
  if (pick) {
    const auto& s = pool.snapshot->servers[pick->server];
    o["server"] = s.name;
    o["address"] = s.address;
    o["tier"] = pick->tier;
  } else {
    o["server"] = nullptr;
    o["reason"] = "no eligible server: every server is down, drained or disabled";
  }
  out.body = std::move(o);
  return out;
}

}  // namespace sb::runtime
