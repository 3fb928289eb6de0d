#include "proxy/runtime/listener.h"

#include <spdlog/spdlog.h>

#include <cstdlib>

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

// `targets` empty: this worker's own SO_REUSEPORT acceptor, sessions stay on
// it. Otherwise one shared acceptor hands each connection to the next target
// worker in turn (the alternative model, kept for the benchmark that chose
// between them; see docs/architecture.md).
awaitable<void> accept_loop(Worker& worker, ListenerRuntime& listener, tcp::acceptor& acceptor,
                            std::vector<Worker*> targets) {
  asio::steady_timer pause(worker.io());
  std::size_t next = 0;
  tcp::endpoint peer;  // filled by accept(2) itself: no getpeername per connection
  for (;;) {
    Worker& owner = targets.empty() ? worker : *targets[next++ % targets.size()];
    auto [ec, socket] = co_await acceptor.async_accept(owner.io(), peer, use_nothrow);
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
    if (ec) {
      if (is_fd_exhaustion(ec)) {
        // Out of descriptors: the pending connection stays in the backlog;
        // retrying at once would spin. Pause and let sessions end.
        spdlog::warn("listener {}: accept failed: {}; pausing 100ms", listener.config.name,
                     ec.message());
        pause.expires_after(std::chrono::milliseconds(100));
        co_await pause.async_wait(use_nothrow);
      }
      continue;
    }
    start_tcp_session(owner, listener, std::move(socket), peer);
  }
}

}  // namespace

ListenerRuntime::ListenerRuntime(const config::ListenerConfig& cfg, std::size_t pool)
    : config(cfg),
      pool_index(pool),
      admission(cfg.allow, cfg.deny, cfg.max_connections, cfg.max_connections_per_source, stats) {}

void open_listener(ListenerRuntime& listener, std::vector<std::unique_ptr<Worker>>& workers) {
  for (const config::HostPort& hp : listener.config.listen) {
    const auto ep = to_endpoint(hp);
    if (!ep) throw ListenError("cannot listen on " + hp.to_string() + ": not an IP address");
    ensure_unused(workers.front()->io(), *ep, hp.to_string());
    std::vector<Worker*> targets;
    if (shared_acceptor()) {
      for (auto& w : workers) targets.push_back(w.get());
    }
    for (auto& w : workers) {
      tcp::acceptor& a = w->adopt_acceptor(open_acceptor(w->io(), *ep, hp.to_string()));
      asio::co_spawn(w->io(), accept_loop(*w, listener, a, targets), [](std::exception_ptr e) {
        if (!e) return;
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          spdlog::error("accept loop ended by an exception: {}", ex.what());
        }
      });
      if (!targets.empty()) break;  // one acceptor, on the first worker
    }
    spdlog::info("listener {}: {} on {} ({} workers)", listener.config.name,
                 config::to_string(listener.config.protocol), hp.to_string(), workers.size());
  }
}

}  // namespace sb::runtime
