#include "proxy/runtime/listener.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>

#include "dns/answer.h"
#include "proxy/runtime/dns_listener.h"
#include "proxy/runtime/endpoint.h"
#include "proxy/runtime/tcp_session.h"

namespace sb::runtime {
namespace {

// SO_REUSEPORT: every worker binds its own socket to the same address and the
// kernel spreads new connections across them, so acceptors never contend.
using reuse_port = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

// SO_REUSEPORT would let us bind an address that another switchboard (same
// user) already serves, silently splitting its traffic. A plain bind first
// proves the address is free.
void ensure_unused(asio::io_context& io, const tcp::endpoint& ep, const std::string& text) {
  tcp::acceptor probe(io);
  error_code ec;
  probe.open(ep.protocol(), ec);
  if (!ec) probe.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec && ep.address().is_v6()) probe.set_option(asio::ip::v6_only(true), ec);
  if (!ec) probe.bind(ep, ec);
  if (ec) throw ListenError("cannot listen on " + text + ": " + ec.message());
}

// The same for UDP (a dns listener serves both on each address).
void ensure_unused_udp(asio::io_context& io, const tcp::endpoint& ep, const std::string& text) {
  udp::socket probe(io);
  const udp::endpoint uep(ep.address(), ep.port());
  error_code ec;
  probe.open(uep.protocol(), ec);
  if (!ec && ep.address().is_v6()) probe.set_option(asio::ip::v6_only(true), ec);
  if (!ec) probe.bind(uep, ec);
  if (ec) throw ListenError("cannot listen on " + text + " (udp): " + ec.message());
}

udp::socket open_udp(asio::io_context& io, const tcp::endpoint& ep, const std::string& text) {
  udp::socket u(io);
  const udp::endpoint uep(ep.address(), ep.port());
  error_code ec;
  u.open(uep.protocol(), ec);
  if (!ec) u.set_option(udp::socket::reuse_address(true), ec);
  if (!ec) u.set_option(reuse_port(true), ec);
  if (!ec && ep.address().is_v6()) u.set_option(asio::ip::v6_only(true), ec);
  if (!ec) u.bind(uep, ec);
  if (!ec) u.non_blocking(true, ec);  // answers are sent without waiting
  if (ec) throw ListenError("cannot listen on " + text + " (udp): " + ec.message());
  return u;
}

tcp::acceptor open_acceptor(asio::io_context& io, const tcp::endpoint& ep,
                            const std::string& text) {
  tcp::acceptor a(io);
  error_code ec;
  a.open(ep.protocol(), ec);
  if (!ec) a.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) a.set_option(reuse_port(true), ec);
  if (!ec && ep.address().is_v6()) a.set_option(asio::ip::v6_only(true), ec);
  if (!ec) a.bind(ep, ec);
  if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw ListenError("cannot listen on " + text + ": " + ec.message());
  return a;
}

// SWITCHBOARD_ACCEPT=shared: one acceptor for all workers instead of one
// SO_REUSEPORT acceptor each. Only for measuring the two models.
bool shared_acceptor() {
  const char* env = std::getenv("SWITCHBOARD_ACCEPT");
  return env && std::string_view(env) == "shared";
}

bool is_fd_exhaustion(const error_code& ec) {
  return ec == asio::error::no_descriptors || ec.value() == ENFILE ||
         ec == asio::error::no_buffer_space || ec == asio::error::no_memory;
}

// `slot->targets` empty: this worker's own SO_REUSEPORT acceptor, sessions
// stay on it. Otherwise one shared acceptor hands each connection to the next
// target worker in turn (the alternative model, kept for the benchmark that
// chose between them; see docs/architecture.md).
awaitable<void> accept_loop(Worker& worker, std::shared_ptr<AcceptorSlot> slot) {
  asio::steady_timer pause(worker.io());
  std::size_t next = 0;
  tcp::endpoint peer;  // filled by accept(2) itself: no getpeername per connection
  tcp::acceptor& acceptor = slot->acceptor;
  const auto& targets = slot->targets;
  for (;;) {
    Worker& owner = targets.empty() ? worker : *targets[next++ % targets.size()];
    auto [ec, socket] = co_await acceptor.async_accept(owner.io(), peer, use_nothrow);
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
    if (ec) {
      if (is_fd_exhaustion(ec)) {
        // Out of descriptors: the pending connection stays in the backlog;
        // retrying at once would spin. Pause and let sessions end.
        spdlog::warn("listener {}: accept failed: {}; pausing 100ms", slot->listener->config.name,
                     ec.message());
        pause.expires_after(std::chrono::milliseconds(100));
        co_await pause.async_wait(use_nothrow);
      }
      continue;
    }
    // The listener now: a reload may have given the address a new one.
    if (slot->listener->config.protocol == config::Protocol::dns) {
      start_dns_tcp_session(owner, slot->listener, std::move(socket), peer);
    } else {
      start_tcp_session(owner, slot->listener, std::move(socket), peer);
    }
  }
}

}  // namespace

ListenerRuntime::ListenerRuntime(const config::ListenerConfig& cfg,
                                 std::shared_ptr<const PoolRuntime> pool_runtime,
                                 std::shared_ptr<ListenerStats> counters)
    : config(cfg),
      pool(std::move(pool_runtime)),
      stats(std::move(counters)),
      admission(cfg.allow, cfg.deny, cfg.max_connections, cfg.max_connections_per_source, *stats) {}

ListenerRuntime::~ListenerRuntime() = default;

void start_accept_loop(Worker& worker, std::shared_ptr<AcceptorSlot> slot) {
  asio::co_spawn(worker.io(), accept_loop(worker, std::move(slot)), [](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      spdlog::error("accept loop ended by an exception: {}", ex.what());
    }
  });
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
    const bool dns = lc.protocol == config::Protocol::dns;
    const auto old = std::find_if(current_.begin(), current_.end(),
                                  [&](const auto& l) { return l->config.name == lc.name; });
    auto stats = old != current_.end() ? (*old)->stats : std::make_shared<ListenerStats>();
    auto listener = std::make_shared<ListenerRuntime>(lc, dns ? nullptr : pool_named(lc.pool),
                                                      std::move(stats));
    if (dns) attach_answerers(*listener, workers_.size(), pool_named);
    for (const config::HostPort& hp : lc.listen) {
      const auto ep = to_endpoint(hp);
      if (!ep) throw ListenError("cannot listen on " + hp.to_string() + ": not an IP address");
      // A dns listener's address is its own: it holds a UDP socket too.
      const std::string key = to_string(*ep) + (dns ? " dns" : "");
      plan.addresses.insert(key);
      if (open_.contains(key)) {
        for (auto& per_worker : plan.per_worker) per_worker.push_back({key, listener, {}, {}, {}});
        continue;
      }
      ensure_unused(workers_.front()->io(), *ep, hp.to_string());
      if (dns) ensure_unused_udp(workers_.front()->io(), *ep, hp.to_string());
      std::vector<Worker*> targets;
      if (shared_acceptor() && !dns) {
        for (auto& w : workers_) targets.push_back(w.get());
      }
      for (std::size_t w = 0; w < workers_.size(); ++w) {
        WorkerGeneration::Address a{
            key, listener, open_acceptor(workers_[w]->io(), *ep, hp.to_string()), {}, targets};
        if (dns) a.udp_opened = open_udp(workers_[w]->io(), *ep, hp.to_string());
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
      const auto key =
          to_string(*to_endpoint(hp)) + (l->config.protocol == config::Protocol::dns ? " dns" : "");
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
    const bool kept = std::any_of(plan.listeners.begin(), plan.listeners.end(),
                                  [&](const auto& l) { return l->stats == old->stats; });
    if (!kept) retired_.push_back(old->stats);
  }
  current_ = plan.listeners;
  open_ = plan.addresses;
}

std::int64_t ListenerSet::active() {
  std::erase_if(retired_, [](const auto& s) { return s->active.load() <= 0; });
  std::int64_t n = 0;
  for (const auto& l : current_) n += l->stats->active.load(std::memory_order_relaxed);
  for (const auto& s : retired_) n += s->active.load(std::memory_order_relaxed);
  return n;
}

}  // namespace sb::runtime
