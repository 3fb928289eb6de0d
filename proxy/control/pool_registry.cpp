#include "proxy/control/pool_registry.h"

#include <algorithm>
#include <stdexcept>

#include "net/endpoint.h"
#include "proxy/host_port.h"

namespace sb::runtime {

balancer::AdminState to_admin(config::AdminState s) {
  switch (s) {
    case config::AdminState::enabled:
      return balancer::AdminState::enabled;
    case config::AdminState::drain:
      return balancer::AdminState::drain;
    case config::AdminState::disabled:
      return balancer::AdminState::disabled;
  }
  return balancer::AdminState::enabled;
}

namespace {

balancer::Algorithm to_algorithm(config::Balance b) {
  switch (b) {
    case config::Balance::round_robin:
      return balancer::Algorithm::round_robin;
    case config::Balance::weighted_round_robin:
      return balancer::Algorithm::weighted_round_robin;
    case config::Balance::least_connections:
      return balancer::Algorithm::least_connections;
    case config::Balance::random_two_choices:
      return balancer::Algorithm::random_two_choices;
    case config::Balance::source_ip:
      return balancer::Algorithm::source_ip;
    case config::Balance::source_network:
      return balancer::Algorithm::source_network;
    case config::Balance::maglev:
      return balancer::Algorithm::maglev;
    case config::Balance::first_available:
      return balancer::Algorithm::first_available;
  }
  return balancer::Algorithm::round_robin;
}

}  // namespace

bool is_discovered(const config::ServerEntry& s) {
  return s.kind != config::ServerEntry::Kind::address ||
         s.address.kind == config::HostPort::Kind::hostname;
}

balancer::ServerView static_server(const config::ServerEntry& s) {
  const auto ep = to_endpoint(s.address);
  if (!ep) throw std::runtime_error("server \"" + s.name + "\" is not an IP address");
  balancer::ServerView view;
  view.name = s.name;
  view.address = s.address.to_string();
  const net::IpAddress ip = net::to_ip(ep->address());
  view.ip = ip;
  view.port = ep->port();
  view.weight = s.weight;
  view.priority = s.priority;
  view.admin = to_admin(s.state);
  return view;
}

namespace {

std::shared_ptr<PoolRuntime> pool_runtime(const config::PoolConfig& pc, std::size_t index) {
  auto pool = std::make_shared<PoolRuntime>();
  pool->config = pc;
  pool->algorithm = to_algorithm(pc.balance);
  pool->options.source_prefix_v4 = pc.source_prefix_v4;
  pool->options.source_prefix_v6 = pc.source_prefix_v6;
  pool->options.slow_start = pc.slow_start;
  pool->index = index;
  return pool;
}

std::shared_ptr<balancer::PoolSnapshot> empty_snapshot(const std::string& name) {
  auto snapshot = std::make_shared<balancer::PoolSnapshot>();
  snapshot->name = name;
  snapshot->generation = 1;
  return snapshot;
}

}  // namespace

PoolRegistry::Pools PoolRegistry::prepare(const config::Config& cfg) const {
  Pools next;
  for (const config::PoolConfig& pc : cfg.pools) {
    auto pool = pool_runtime(pc, next.size());
    const auto old = std::find_if(pools_.begin(), pools_.end(),
                                  [&](const auto& p) { return p->config.name == pc.name; });
    if (old != pools_.end()) {
      pool->stats = (*old)->stats;
      pool->snapshot = (*old)->snapshot;
    } else {
      pool->snapshot = empty_snapshot(pc.name);
    }
    next.push_back(std::move(pool));
  }
  return next;
}

PoolRegistry::PoolRegistry(const config::Config& cfg) {
  for (const config::PoolConfig& pc : cfg.pools) {
    auto pool = pool_runtime(pc, pools_.size());
    auto snapshot = empty_snapshot(pc.name);
    for (const config::ServerEntry& s : pc.servers) {
      if (is_discovered(s)) continue;
      balancer::ServerView view = static_server(s);
      view.id = next_server_id();
      view.stats = std::make_shared<balancer::ServerStats>();
      snapshot->servers.push_back(std::move(view));
    }
    pool->snapshot = std::move(snapshot);
    pools_.push_back(std::move(pool));
  }
}

std::size_t PoolRegistry::index_of(std::string_view name) const {
  for (std::size_t i = 0; i < pools_.size(); ++i) {
    if (pools_[i]->config.name == name) return i;
  }
  throw std::out_of_range("unknown pool " + std::string(name));
}

}  // namespace sb::runtime
