#include "proxy/control/pool_control.h"

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/json.hpp>

#include "balancer/balancer.h"
#include "balancer/hash.h"
#include "net/codec/cidr.h"
#include "net/codec/escape.h"

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
  index_.resize(pools_.size());
  for (std::size_t i = 0; i < pools_.size(); ++i) {
    for (const auto& s : pools_.at(i).snapshot->servers) records_[s.id] = {i, now, now, {}};
    index_pool(i);
  }
}

void PoolControl::index_pool(std::size_t pool) {
  auto& index = index_[pool];
  index.clear();
  const auto& servers = pools_.at(pool).snapshot->servers;
  for (std::size_t s = 0; s < servers.size(); ++s) index[servers[s].id] = s;
}

std::optional<std::pair<std::size_t, std::size_t>> PoolControl::locate(std::uint64_t id) const {
  const auto record = records_.find(id);
  if (record == records_.end()) return std::nullopt;
  const auto& index = index_[record->second.pool];
  const auto it = index.find(id);
  if (it == index.end()) return std::nullopt;
  return std::pair{record->second.pool, it->second};
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
  const ServerRecord& record = records_.at(s.id);
  o["since"] = iso8601(record.since);
  o["health_since"] = iso8601(record.health_since);
  const CheckRecord& c = record.check;
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
    if (changed.state() != before) records_[changed.id].since = std::chrono::system_clock::now();
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
  if (held_) return;
  for (auto& w : workers_) w->publish(pools_.shared(pool), next);
}

void PoolControl::rebuild() {
  const auto now = std::chrono::system_clock::now();
  index_.assign(pools_.size(), {});
  for (std::size_t i = 0; i < pools_.size(); ++i) index_pool(i);
  // Servers that left with their pool.
  std::vector<std::uint64_t> gone;
  for (auto& [id, record] : records_) {
    bool found = false;
    for (std::size_t i = 0; i < pools_.size() && !found; ++i) {
      if (index_[i].contains(id)) {
        record.pool = i;
        found = true;
      }
    }
    if (!found) gone.push_back(id);
  }
  for (const auto id : gone) {
    records_.erase(id);
    if (hooks_.removed) hooks_.removed(id);
  }
  // Servers of pools that are new (none: their snapshots start empty, but a
  // caller may have filled one).
  for (std::size_t i = 0; i < pools_.size(); ++i) {
    for (const auto& s : pools_.at(i).snapshot->servers) {
      if (records_.contains(s.id)) continue;
      records_[s.id] = {i, now, now, {}};
      if (hooks_.added) hooks_.added(i, s);
    }
  }
}

PoolControl::ServerTimes PoolControl::times(std::uint64_t id) const {
  const auto record = records_.find(id);
  if (record == records_.end()) return {};
  const auto since = record->second.since.time_since_epoch();
  return {std::chrono::duration<double>(since).count(),
          static_cast<double>(record->second.check.certificate_expiry)};
}

void PoolControl::apply_check(std::uint64_t id, const health::ProbeResult& result,
                              health::Transition transition) {
  const auto record = records_.find(id);
  if (record == records_.end()) return;
  CheckRecord& c = record->second.check;
  const auto where = locate(id);
  if (where) {
    // Counted for the metrics (README.md "Prometheus and Grafana"), which read them at scrape time.
    auto& stats = *pools_.at(where->first).snapshot->servers[where->second].stats;
    const auto kind = result.ok            ? balancer::CheckResult::pass
                      : result.local_fault ? balancer::CheckResult::error
                      : result.timed_out   ? balancer::CheckResult::timeout
                                           : balancer::CheckResult::fail;
    stats.checks[static_cast<std::size_t>(kind)].fetch_add(1, std::memory_order_relaxed);
    if (kind != balancer::CheckResult::error) stats.check_duration.observe(result.latency);
  }
  c.any = true;
  c.result = result.ok            ? "pass"
             : result.local_fault ? "error"
             : result.timed_out   ? "timeout"
                                  : "fail";
  c.latency_ms = static_cast<double>(result.latency.count()) / 1000.0;
  // A check that reuses its connection makes no handshake: the certificate
  // seen last stays the one reported.
  if (result.certificate_expiry != 0) c.certificate_expiry = result.certificate_expiry;
  // /status must stay valid JSON whatever a server answered: its bytes are
  // escaped here, where they reach the admin API, even though the probes
  // escape the lines they quote (escaping twice changes nothing).
  c.detail = net::escape_bytes(result.detail);
  // A local fault is this host's, not the server's: logged once while it
  // lasts, and not the server's last failure.
  if (result.local_fault != c.in_local_fault && where) {
    const PoolRuntime& p = pools_.at(where->first);
    const std::string& name = p.snapshot->servers[where->second].name;
    if (result.local_fault) {
      spdlog::warn("pool {}: the check of {} could not run here: {} (no verdict; retried)",
                   p.config.name, name, c.detail);
    } else {
      spdlog::info("pool {}: the check of {} runs again", p.config.name, name);
    }
  }
  c.in_local_fault = result.local_fault;
  if (result.local_fault) return;
  if (!result.ok) {
    c.failed_once = true;
    c.failure_at = std::chrono::system_clock::now();
    c.failure_detail = c.detail;
    c.failure_transcript.clear();
    for (const auto& line : result.transcript) {
      c.failure_transcript.push_back(net::escape_bytes(line));
    }
  }
  if (transition == health::Transition::none) return;
  set_health(id, transition == health::Transition::went_up,
             fmt::format("{} after {:.1f}ms", c.detail, c.latency_ms));
}

void PoolControl::set_health(std::uint64_t id, bool up, std::string_view why) {
  const auto where = locate(id);
  if (!where) return;
  const auto [pool, server] = *where;
  PoolRuntime& p = pools_.at(pool);
  auto next = std::make_shared<balancer::PoolSnapshot>(*p.snapshot);
  balancer::ServerView& s = next->servers[server];
  if ((s.health == balancer::Health::up) == up) return;
  s.health = up ? balancer::Health::up : balancer::Health::down;
  (up ? s.stats->went_up : s.stats->went_down).fetch_add(1, std::memory_order_relaxed);
  // Back in rotation: slow start (if the pool has a window) ramps from now.
  if (up && s.eligible()) s.up_since = std::chrono::steady_clock::now();
  auto& record = records_[id];
  record.since = record.health_since = std::chrono::system_clock::now();
  spdlog::warn("pool {}: {} {}: {}", p.config.name, s.name, up ? "up" : "down", why);
  publish(pool, std::move(next));
}

void PoolControl::eject_unchecked(std::uint64_t id, std::chrono::milliseconds ejection_time,
                                  const std::string& reason) {
  set_health(id, false, reason);
  auto timer = std::make_shared<asio::steady_timer>(control_, ejection_time);
  timer->async_wait([this, timer, id, ejection_time](const error_code& ec) {
    if (ec) return;
    set_health(id, true,
               fmt::format("ejection of {}ms over (no active check)", ejection_time.count()));
  });
}

bool PoolControl::set_members(std::size_t pool, std::vector<balancer::ServerView> members,
                              std::string_view cause) {
  PoolRuntime& p = pools_.at(pool);
  const auto& old = p.snapshot->servers;
  const auto same_server = [](const balancer::ServerView& a, const balancer::ServerView& b) {
    return a.name == b.name && a.ip == b.ip && a.port == b.port;
  };
  // A list that names one server twice (two MX records for one exchange, an
  // address written twice) is one server: one id, one check, one share.
  // Otherwise both copies would keep the same id, and a health change would
  // reach only the copy the index points at.
  for (auto m = members.begin(); m != members.end();) {
    const bool again = std::any_of(
        members.begin(), m, [&](const balancer::ServerView& e) { return same_server(e, *m); });
    m = again ? members.erase(m) : m + 1;
  }
  auto next = std::make_shared<balancer::PoolSnapshot>();
  next->name = p.snapshot->name;
  bool changed = members.size() != old.size();
  std::vector<balancer::ServerView> added;
  for (auto& m : members) {
    const auto it = std::find_if(old.begin(), old.end(),
                                 [&](const balancer::ServerView& o) { return same_server(o, m); });
    if (it != old.end()) {
      balancer::ServerView kept = *it;
      changed |= kept.weight != m.weight || kept.priority != m.priority ||
                 static_cast<std::size_t>(it - old.begin()) != next->servers.size();
      kept.weight = m.weight;
      kept.priority = m.priority;
      next->servers.push_back(std::move(kept));
      continue;
    }
    changed = true;
    m.id = pools_.next_server_id();
    m.stats = std::make_shared<balancer::ServerStats>();
    m.health = balancer::Health::up;  // assumed up until its first check (docs/configuration.md)
    const auto now = std::chrono::system_clock::now();
    records_[m.id] = {pool, now, now, {}};
    spdlog::info("pool {}: server {} ({}) joins ({})", p.config.name, m.name, m.address, cause);
    added.push_back(m);
    next->servers.push_back(std::move(m));
  }
  if (!changed) return false;
  for (const auto& o : old) {
    const bool stays = std::any_of(next->servers.begin(), next->servers.end(),
                                   [&](const balancer::ServerView& n) { return n.id == o.id; });
    if (stays) continue;
    spdlog::info("pool {}: server {} ({}) leaves ({}); {} open connections finish", p.config.name,
                 o.name, o.address, cause, o.stats->active.load(std::memory_order_relaxed));
    records_.erase(o.id);
    if (hooks_.removed) hooks_.removed(o.id);
  }
  publish(pool, std::move(next));
  index_pool(pool);
  for (const auto& a : added) {
    if (hooks_.added) hooks_.added(pool, a);
  }
  return true;
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
    o["retries_total"] = pool.stats->retries.load(std::memory_order_relaxed);
    o["exhausted_total"] = pool.stats->exhausted.load(std::memory_order_relaxed);
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
  const auto ip = net::IpAddress::parse(client);
  if (!ip) {
    out.error = fmt::format("client \"{}\" is not an IP address", client);
    return out;
  }
  const net::IpAddress addr = ip->unmapped();
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
