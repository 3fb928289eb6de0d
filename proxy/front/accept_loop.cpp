#include "proxy/front/accept_loop.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <stdexcept>
#include <thread>

#include "net/native_socket.h"
#include "proxy/accept_pause.h"
#include "proxy/front/listener.h"
#include "proxy/worker/fault_hooks.h"
#include "proxy/worker/supervised_loop.h"

namespace sb::runtime {
namespace {

std::atomic<std::uint64_t> g_session_exceptions{0};
std::atomic<std::uint64_t> g_next_connection_id{1};

// One connection: the front door, then the protocol.
awaitable<void> connection(Worker& worker, std::shared_ptr<ListenerRuntime> listener,
                           tcp::socket socket, tcp::endpoint peer, std::uint64_t id) {
  ProtocolHandler& handler = *listener->handler;
  FrontDoor& front = listener->front;
  auto client = co_await front.admit(std::move(listener), std::move(socket), peer,
                                     handler.front_policy(), id, &worker);
  if (!client) co_return;
  co_await handler.serve(worker, std::move(*client));
}

void start_connection(Worker& worker, std::shared_ptr<ListenerRuntime> listener, tcp::socket socket,
                      const tcp::endpoint& peer) {
  const std::uint64_t id = g_next_connection_id.fetch_add(1, std::memory_order_relaxed);
  const ListenerRuntime* name_of = listener.get();
  auto session = connection(worker, listener, std::move(socket), peer, id);
  asio::co_spawn(worker.io(), std::move(session),
                 [id, listener = std::move(listener), name_of](std::exception_ptr e) {
                   if (!e) return;
                   g_session_exceptions.fetch_add(1, std::memory_order_relaxed);
                   try {
                     std::rethrow_exception(e);
                   } catch (const std::exception& ex) {
                     spdlog::error("listener {}: connection {} ended by an exception: {}",
                                   name_of->config.name, id, ex.what());
                   } catch (...) {
                     spdlog::error("listener {}: connection {} ended by an unknown exception",
                                   name_of->config.name, id);
                   }
                 });
}

// Test builds only (proxy/worker/fault_hooks.h); nothing in a release build.
void inject_accept_faults(Worker& worker) {
  switch (armed_fault()) {
    case Fault::worker_throw:
      asio::post(worker.io(), [] { throw std::runtime_error("test fault: worker-throw"); });
      break;
    case Fault::accept_loop_throw:
      throw std::runtime_error("test fault: accept-loop-throw");
    case Fault::worker_stall: {
      // The second accepted connection: the first is the test's wait for
      // the port to listen, before it asked /healthz.
      static std::atomic<int> accepted{0};
      if (++accepted == 2) {
        asio::post(worker.io(), [] { std::this_thread::sleep_for(std::chrono::seconds(15)); });
      }
      break;
    }
    default:
      break;
  }
}

// `slot->targets` empty: this worker's own SO_REUSEPORT acceptor, sessions
// stay on it. Otherwise one shared acceptor hands each connection to the next
// target worker in turn (tuning.accept: shared, kept for measuring the two
// models; see docs/architecture.md).
//
// accept4 until none is waiting, then one wait: each socket is born
// non-blocking and its descriptor known to have no duplicate
// (net/native_socket.h), which spares an ioctl and an EPOLL_CTL_DEL per
// connection over Asio's async_accept. At most kAcceptsPerTurn in a row, so
// that the sessions they start (and everything else on the worker) run.
awaitable<void> accept_loop(Worker& worker, std::shared_ptr<AcceptorSlot> slot) {
  constexpr int kAcceptsPerTurn = 16;
  AcceptPause pause(worker.io().get_executor(), "listener " + slot->listener->config.name);
  std::size_t next = 0;
  tcp::endpoint peer;  // filled by accept4(2) itself: no getpeername per connection
  tcp::acceptor& acceptor = slot->acceptor;
  const auto& targets = slot->targets;
  int in_turn = 0;  // accepted since the loop last waited or yielded
  for (;;) {
    if (!acceptor.is_open()) co_return;
    if (in_turn == kAcceptsPerTurn) {
      in_turn = 0;
      co_await asio::post(worker.io(), asio::use_awaitable);
      continue;
    }
    Worker& owner = targets.empty() ? worker : *targets[next % targets.size()];
    tcp::socket socket(owner.io());
    error_code ec = net::accept_nonblocking(acceptor, socket, peer);
    if (ec == asio::error::would_block) {
      in_turn = 0;
      auto [wec] = co_await acceptor.async_wait(tcp::acceptor::wait_read, use_nothrow);
      if (wec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
      if (!wec) continue;
      ec = wec;
    }
    if (ec) {
      co_await pause.after(ec);  // out of descriptors: no spinning
      continue;
    }
    ++in_turn;
    ++next;
    inject_accept_faults(owner);
    // The listener now: a reload may have given the address a new one.
    start_connection(owner, slot->listener, std::move(socket), peer);
  }
}

}  // namespace

void serve_slot(Worker& worker, std::shared_ptr<AcceptorSlot> slot) {
  if (slot->udp) slot->listener->handler->start_datagrams(worker, slot);
  auto what = "accept loop of listener " + slot->listener->config.name;
  spawn_supervised(
      worker, std::move(what), [&worker, slot] { return accept_loop(worker, slot); },
      [slot] { return slot->acceptor.is_open(); });
}

std::uint64_t session_exceptions() {
  return g_session_exceptions.load();
}

}  // namespace sb::runtime
