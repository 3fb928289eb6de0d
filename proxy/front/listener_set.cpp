#include "proxy/front/listener_set.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

#include "net/endpoint.h"
#include "proxy/host_port.h"
#include "proxy/protocols/handler_factory.h"

namespace sb::runtime {
namespace {

// SO_REUSEPORT: every worker binds its own socket to the same address and the
// kernel spreads new connections across them, so acceptors never contend.
using reuse_port = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

// `freebind: true`: bind an address this host does not hold (yet), so the
// backup of a VRRP pair listens on the virtual address before it moves here
// (docs/high-availability.md). Without it such a bind fails at start.
template <typename Socket>
void set_freebind(Socket& s, const tcp::endpoint& ep, bool on, error_code& ec) {
  if (!on || ec) return;
  const int yes = 1;
  const bool v6 = ep.address().is_v6();
  if (::setsockopt(s.native_handle(), v6 ? SOL_IPV6 : SOL_IP, v6 ? IPV6_FREEBIND : IP_FREEBIND,
                   &yes, sizeof yes) != 0) {
    ec = error_code(errno, asio::error::get_system_category());
  }
}

// SO_REUSEPORT would let us bind an address that another switchboard (same
// user) already serves, silently splitting its traffic. A plain bind first
// proves the address is free.
void ensure_unused(asio::io_context& io, const tcp::endpoint& ep, const std::string& text,
                   bool freebind) {
  tcp::acceptor probe(io);
  error_code ec;
  probe.open(ep.protocol(), ec);
  if (!ec) probe.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec && ep.address().is_v6()) probe.set_option(asio::ip::v6_only(true), ec);
  set_freebind(probe, ep, freebind, ec);
  if (!ec) probe.bind(ep, ec);
  if (ec) throw ListenError("cannot listen on " + text + ": " + ec.message());
}

// The same for UDP (a dns listener serves both on each address).
void ensure_unused_udp(asio::io_context& io, const tcp::endpoint& ep, const std::string& text,
                       bool freebind) {
  udp::socket probe(io);
  const udp::endpoint uep(ep.address(), ep.port());
  error_code ec;
  probe.open(uep.protocol(), ec);
  if (!ec && ep.address().is_v6()) probe.set_option(asio::ip::v6_only(true), ec);
  set_freebind(probe, ep, freebind, ec);
  if (!ec) probe.bind(uep, ec);
  if (ec) throw ListenError("cannot listen on " + text + " (udp): " + ec.message());
}

udp::socket open_udp(asio::io_context& io, const tcp::endpoint& ep, const std::string& text,
                     bool freebind) {
  udp::socket u(io);
  const udp::endpoint uep(ep.address(), ep.port());
  error_code ec;
  u.open(uep.protocol(), ec);
  if (!ec) u.set_option(udp::socket::reuse_address(true), ec);
  if (!ec) u.set_option(reuse_port(true), ec);
  if (!ec && ep.address().is_v6()) u.set_option(asio::ip::v6_only(true), ec);
  set_freebind(u, ep, freebind, ec);
  if (!ec) u.bind(uep, ec);
  if (!ec) u.non_blocking(true, ec);  // answers are sent without waiting
  if (ec) throw ListenError("cannot listen on " + text + " (udp): " + ec.message());
  return u;
}

tcp::acceptor open_acceptor(asio::io_context& io, const tcp::endpoint& ep, const std::string& text,
                            bool freebind) {
  tcp::acceptor a(io);
  error_code ec;
  a.open(ep.protocol(), ec);
  if (!ec) a.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) a.set_option(reuse_port(true), ec);
  if (!ec && ep.address().is_v6()) a.set_option(asio::ip::v6_only(true), ec);
  set_freebind(a, ep, freebind, ec);
  if (!ec) a.bind(ep, ec);
  if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw ListenError("cannot listen on " + text + ": " + ec.message());
  return a;
}

// What a reload matches addresses on. A listener that also serves UDP holds
// its address over both, and only a listener of the same protocol may take
// its sockets over (its datagram loop keeps running across the reload).
std::string address_key(const tcp::endpoint& ep, const ListenerRuntime& l) {
  std::string key = net::to_string(ep);
  if (l.handler->datagrams()) {
    key += " +udp ";
    key += config::to_string(l.config.protocol);
  }
  return key;
}

}  // namespace

ListenerRuntime::ListenerRuntime(const config::ListenerConfig& cfg,
                                 std::shared_ptr<ListenerStats> counters,
                                 std::unique_ptr<ProtocolHandler> protocol)
    : config(cfg), stats(std::move(counters)), front(cfg, *stats), handler(std::move(protocol)) {
  for (const auto& hp : cfg.listen) {
    if (!frontend.empty()) frontend += ',';
    frontend += hp.to_string();
  }
}

ListenerSet::Plan ListenerSet::prepare(const config::Config& cfg,
                                       const PoolRegistry::Pools& pools) const {
  Plan plan;
  plan.per_worker.resize(workers_.size());
  const auto pool_named = [&](const std::string& name) {
    const auto pool = std::find_if(pools.begin(), pools.end(),
                                   [&](const auto& p) { return p->config.name == name; });
    if (pool == pools.end()) throw ListenError("no pool " + name);
    return *pool;
  };
  for (const config::ListenerConfig& lc : cfg.listeners) {
    const auto old = std::find_if(current_.begin(), current_.end(),
                                  [&](const auto& l) { return l->config.name == lc.name; });
    auto stats = old != current_.end() ? (*old)->stats : std::make_shared<ListenerStats>();
    HandlerContext context{pool_named, workers_.size(), stats};
    std::unique_ptr<ProtocolHandler> handler;
    try {
      handler = make_handler(lc, context);
    } catch (const std::invalid_argument& e) {
      throw ListenError(fmt::format("listener {}: {}", lc.name, e.what()));
    }
    auto listener = std::make_shared<ListenerRuntime>(lc, std::move(stats), std::move(handler));
    const bool datagrams = listener->handler->datagrams();
    for (const config::HostPort& hp : lc.listen) {
      const auto ep = to_endpoint(hp);
      if (!ep) throw ListenError("cannot listen on " + hp.to_string() + ": not an IP address");
      const std::string key = address_key(*ep, *listener);
      plan.addresses.insert(key);
      if (open_.contains(key)) {
        for (auto& per_worker : plan.per_worker) per_worker.push_back({key, listener, {}, {}, {}});
        continue;
      }
      const std::string text = hp.to_string();
      ensure_unused(workers_.front()->io(), *ep, text, lc.freebind);
      if (datagrams) ensure_unused_udp(workers_.front()->io(), *ep, text, lc.freebind);
      std::vector<Worker*> targets;
      if (cfg.tuning.accept == config::AcceptModel::shared && !datagrams) {
        for (auto& w : workers_) targets.push_back(w.get());
      }
      for (std::size_t w = 0; w < workers_.size(); ++w) {
        WorkerGeneration::Address a{
            key, listener, open_acceptor(workers_[w]->io(), *ep, text, lc.freebind), {}, targets};
        if (datagrams) a.udp_opened = open_udp(workers_[w]->io(), *ep, text, lc.freebind);
        plan.per_worker[w].push_back(std::move(a));
        if (!targets.empty()) break;  // one acceptor, on the first worker
      }
    }
    plan.listeners.push_back(std::move(listener));
  }
  return plan;
}

void ListenerSet::commit(Plan& plan) {
  for (const auto& l : plan.listeners) {
    for (const auto& hp : l->config.listen) {
      const auto key = address_key(*to_endpoint(hp), *l);
      if (!open_.contains(key)) {
        spdlog::info("listener {}: {} on {} ({} workers)", l->config.name,
                     config::to_string(l->config.protocol), hp.to_string(), workers_.size());
      }
    }
  }
  for (const auto& key : open_) {
    if (!plan.addresses.contains(key)) spdlog::info("listener address {} closed", key);
  }
  for (auto& old : current_) {
    old->retired.store(true, std::memory_order_relaxed);
    const bool kept = std::any_of(plan.listeners.begin(), plan.listeners.end(),
                                  [&](const auto& l) { return l->stats == old->stats; });
    if (!kept) retired_.push_back(old->stats);
  }
  current_ = plan.listeners;
  open_ = plan.addresses;
  // Keep-alive connections idle on the replaced listeners close now.
  for (auto& w : workers_) w->close_idle();
}

std::int64_t ListenerSet::active() {
  std::erase_if(retired_, [](const auto& s) { return s->active.load() <= 0; });
  std::int64_t n = 0;
  for (const auto& l : current_) n += l->stats->active.load(std::memory_order_relaxed);
  for (const auto& s : retired_) n += s->active.load(std::memory_order_relaxed);
  return n;
}

}  // namespace sb::runtime
