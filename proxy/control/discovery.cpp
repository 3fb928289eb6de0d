#include "proxy/control/discovery.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

namespace sb::runtime {
namespace {

dns::ResolverOptions resolver_options(const config::ResolverConfig& r) {
  dns::ResolverOptions o;
  for (const auto& s : r.servers) o.servers.push_back(s.to_string());
  o.timeout = r.timeout;
  o.attempts = r.attempts;
  return o;
}

template <class Record>
std::string describe(const dns::Lookup<Record>& lookup, std::string_view name,
                     std::string_view type) {
  switch (lookup.status) {
    case dns::LookupStatus::nxdomain:
      return fmt::format("{} does not exist (NXDOMAIN)", name);
    case dns::LookupStatus::nodata:
      return fmt::format("{} has no {} records", name, type);
    default:
      return fmt::format("{} {} lookup failed: {}", name, type, lookup.error);
  }
}

std::string with_port(const dns::AddressRecord& a, std::uint16_t port) {
  return a.ip.v6 ? fmt::format("[{}]:{}", a.to_string(), port)
                 : fmt::format("{}:{}", a.to_string(), port);
}

std::string_view what(const config::ServerEntry& e) {
  switch (e.kind) {
    case config::ServerEntry::Kind::srv:
      return "srv";
    case config::ServerEntry::Kind::mx:
      return "mx";
    default:
      return "address";
  }
}

}  // namespace

Discovery::Discovery(asio::any_io_executor control, const config::ResolverConfig& resolver,
                     PoolRegistry& pools, PoolControl& pool_control)
    : control_(std::move(control)), options_(resolver), pools_(pools), pool_control_(pool_control) {
  for (const auto& pool : pools_.all()) {
    const auto& servers = pool->config.servers;
    if (std::any_of(servers.begin(), servers.end(), is_discovered)) {
      pools_with_names_.push_back(pool);
    }
  }
  if (needed()) ensure_resolver();
}

void Discovery::ensure_resolver() {
  if (!resolver_) resolver_ = std::make_unique<dns::Resolver>(control_, resolver_options(options_));
}

std::string Discovery::entry_key(const config::PoolConfig& pool, const config::ServerEntry& entry) {
  // Not the weight or priority: a reload that changes them keeps the answer
  // (with the old values) until the name resolves again.
  return fmt::format("{}\n{}\n{}\n{}\n{}\n{}", pool.name, entry.name, what(entry), entry.discovery,
                     entry.address.to_string(), entry.port);
}

void Discovery::start() {
  first_rounds_left_ = pools_with_names_.size();
  spawn_all();
}

void Discovery::spawn_all() {
  for (const auto& pool : pools_with_names_) {
    auto timer = std::make_shared<asio::steady_timer>(control_);
    timers_.push_back(timer);
    asio::co_spawn(control_, run(pool, generation_, std::move(timer)), asio::detached);
  }
}

void Discovery::restart(const config::ResolverConfig& resolver) {
  ++generation_;
  for (auto& t : timers_) t->cancel();
  timers_.clear();
  options_.min_ttl = resolver.min_ttl;
  options_.max_ttl = resolver.max_ttl;
  pools_with_names_.clear();
  for (const auto& pool : pools_.all()) {
    const auto& servers = pool->config.servers;
    if (std::any_of(servers.begin(), servers.end(), is_discovered)) {
      pools_with_names_.push_back(pool);
    }
  }
  if (!needed()) return;
  ensure_resolver();
  spawn_all();
}

void Discovery::stop() {
  *stopped_ = true;
  for (auto& t : timers_) t->cancel();
}

std::vector<balancer::ServerView> Discovery::members_now(const config::PoolConfig& pool) const {
  std::vector<Entry> entries(pool.servers.size());
  for (std::size_t i = 0; i < pool.servers.size(); ++i) {
    if (!is_discovered(pool.servers[i])) continue;
    const auto it = last_good_.find(entry_key(pool, pool.servers[i]));
    if (it != last_good_.end()) entries[i].last_good = it->second;
  }
  return members(pool, entries);
}

asio::awaitable<void> Discovery::run(std::shared_ptr<PoolRuntime> pool_runtime,
                                     std::uint64_t generation,
                                     std::shared_ptr<asio::steady_timer> timer_ptr) {
  // Owned here: a reload or stop may drop the Discovery's references while
  // this loop still waits on a lookup.
  const std::shared_ptr<PoolRuntime> held = std::move(pool_runtime);
  const std::shared_ptr<asio::steady_timer> timer_held = std::move(timer_ptr);
  const auto stopped = stopped_;
  asio::steady_timer& timer = *timer_held;
  const config::PoolConfig& cfg = held->config;
  std::vector<Entry> entries(cfg.servers.size());
  for (std::size_t i = 0; i < cfg.servers.size(); ++i) {
    if (!is_discovered(cfg.servers[i])) continue;
    const auto it = last_good_.find(entry_key(cfg, cfg.servers[i]));
    if (it != last_good_.end()) entries[i].last_good = it->second;
  }
  bool first = true;
  for (;;) {
    Round round;
    for (std::size_t i = 0; i < cfg.servers.size(); ++i) {
      if (is_discovered(cfg.servers[i])) {
        co_await resolve_entry(cfg, cfg.servers[i], entries[i], round);
        if (*stopped || generation != generation_) co_return;
        last_good_[entry_key(cfg, cfg.servers[i])] = entries[i].last_good;
      }
    }
    pool_control_.set_members(held->index, members(cfg, entries));
    if (first) {
      first = false;
      if (first_rounds_left_ > 0) --first_rounds_left_;
    }
    const auto wait = round.any_failure ? options_.min_ttl
                                        : dns::refresh_after(round.smallest_ttl, round.any_ttl,
                                                             options_.min_ttl, options_.max_ttl);
    spdlog::debug("pool {}: next DNS resolution in {}ms", cfg.name, wait.count());
    timer.expires_after(wait);
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (*stopped || generation != generation_) co_return;
  }
}

asio::awaitable<void> Discovery::resolve_entry(const config::PoolConfig& pool,
                                               const config::ServerEntry& entry, Entry& state,
                                               Round& round) {
  std::string problem;
  std::vector<dns::DiscoveredServer> found;
  bool ok = false;
  if (entry.kind == config::ServerEntry::Kind::srv) {
    auto srv = co_await resolver_->srv(entry.discovery);
    if (srv.status != dns::LookupStatus::ok) {
      problem = describe(srv, entry.discovery, "SRV");
    } else {
      std::vector<std::string> targets;
      for (const auto& r : srv.records) {
        round.note_ttl(r.ttl);
        targets.push_back(r.target);
      }
      dns::AddressesByName addresses;
      ok = co_await resolve_hosts(targets, addresses, round, problem);
      if (ok) found = dns::servers_from_srv(srv.records, addresses, entry.priority);
    }
  } else if (entry.kind == config::ServerEntry::Kind::mx) {
    auto mx = co_await resolver_->mx(entry.discovery);
    if (mx.status != dns::LookupStatus::ok) {
      problem = describe(mx, entry.discovery, "MX");
    } else {
      std::vector<std::string> hosts;
      for (const auto& r : mx.records) {
        round.note_ttl(r.ttl);
        hosts.push_back(r.host);
      }
      dns::AddressesByName addresses;
      ok = co_await resolve_hosts(hosts, addresses, round, problem);
      if (ok) {
        found =
            dns::servers_from_mx(mx.records, addresses, entry.port, entry.weight, entry.priority);
      }
    }
  } else {
    auto a = co_await resolver_->addresses(entry.address.host);
    if (a.status != dns::LookupStatus::ok) {
      problem = describe(a, entry.address.host, "A/AAAA");
    } else {
      for (const auto& r : a.records) round.note_ttl(r.ttl);
      found = dns::servers_from_addresses(entry.name, a.records, entry.address.port, entry.weight,
                                          entry.priority);
      ok = true;
    }
  }

  if (ok) {
    // DNS servers rotate their answers; a stable order keeps snapshots equal.
    std::sort(found.begin(), found.end(),
              [](const auto& a, const auto& b) { return a.name < b.name; });
    if (state.failing) {
      spdlog::info("pool {}: {} {} resolves again: {} servers", pool.name, what(entry), entry.name,
                   found.size());
    }
    state.last_good = std::move(found);
    state.failing = false;
    co_return;
  }
  // No answer, or no records: keep what worked last (a zone being reloaded
  // or a resolver restarting must not empty the pool).
  round.any_failure = true;
  if (!state.failing) {
    spdlog::warn("pool {}: {}; keeping the last {} servers of {} {}", pool.name, problem,
                 state.last_good.size(), what(entry), entry.name);
  }
  state.failing = true;
}

asio::awaitable<bool> Discovery::resolve_hosts(const std::vector<std::string>& hosts,
                                               dns::AddressesByName& out, Round& round,
                                               std::string& problem) {
  for (const auto& host : hosts) {
    if (host.empty() || host == "." || out.contains(host)) continue;
    auto a = co_await resolver_->addresses(host);
    if (a.status != dns::LookupStatus::ok) {
      problem = describe(a, host, "A/AAAA");
      co_return false;
    }
    for (const auto& r : a.records) round.note_ttl(r.ttl);
    out[host] = std::move(a.records);
  }
  co_return true;
}

std::vector<balancer::ServerView> Discovery::members(const config::PoolConfig& pool,
                                                     const std::vector<Entry>& entries) const {
  std::vector<balancer::ServerView> out;
  for (std::size_t i = 0; i < pool.servers.size(); ++i) {
    const config::ServerEntry& entry = pool.servers[i];
    if (!is_discovered(entry)) {
      out.push_back(static_server(entry));
      continue;
    }
    for (const auto& d : entries[i].last_good) {
      balancer::ServerView v;
      v.name = d.name;
      v.address = with_port(d.address, d.port);
      v.ip = d.address.ip;
      v.port = d.port;
      v.weight = d.weight;
      v.priority = d.priority;
      v.admin = to_admin(entry.state);
      out.push_back(std::move(v));
    }
  }
  return out;
}

}  // namespace sb::runtime
