#pragma once
// One event-loop thread: its own io_context, its own acceptors (SO_REUSEPORT,
// so the kernel spreads new connections across workers), its own balancers
// and relay resources. Nothing here is shared with other workers except the
// read-only snapshots and the atomic counters they point to.

#include <atomic>
#include <chrono>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "balancer/balancer.h"
#include "net/readable_wait.h"
#include "proxy/asio.h"
#include "proxy/config/config.h"
#include "proxy/control/pool_registry.h"
#include "proxy/upstream/keepalive_pool.h"
#include "proxy/worker/crash_budget.h"
#include "proxy/worker/relay_resources.h"

namespace sb::runtime {

struct ListenerRuntime;
class Worker;

// One listening address on one worker: the acceptor and the listener it
// serves now. A reload gives a kept address its new listener (the socket
// stays open, so no connection is refused) and closes removed ones.
struct AcceptorSlot {
  std::string address;  // the endpoint as text: what reloads match on
  tcp::acceptor acceptor;
  std::optional<asio::ip::udp::socket> udp;   // dns listeners: the same address over UDP
  std::shared_ptr<ListenerRuntime> listener;  // worker thread: read per accept
  // The shared-acceptor model: hand connections to these workers in turn
  // (empty: keep them on this worker).
  std::vector<Worker*> targets;
};

// What a worker runs with for one configuration: every pool (with the
// snapshot current when the configuration was installed) and every
// listening address it serves.
struct WorkerGeneration {
  struct Pool {
    std::shared_ptr<const PoolRuntime> runtime;
    std::shared_ptr<const balancer::PoolSnapshot> snapshot;
  };
  struct Address {
    std::string address;
    std::shared_ptr<ListenerRuntime> listener;
    std::optional<tcp::acceptor> opened;              // a new address; empty: keep the open one
    std::optional<asio::ip::udp::socket> udp_opened;  // with `opened`, for dns listeners
    std::vector<Worker*> targets;
  };
  std::vector<Pool> pools;
  std::vector<Address> addresses;  // the worker closes those not listed
};

class Worker {
 public:
  // `tuning`: how the L4 relay moves bytes and whether connections count
  // what only the metrics read (docs/configuration.md, "tuning").
  Worker(unsigned id, const config::TuningConfig& tuning);
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  unsigned id() const { return id_; }
  asio::io_context& io() { return io_; }
  // automatic: recv/send through a buffer until a read fills it, then
  // splice(2) for that direction; copy, splice: always one way.
  config::RelayMode relay_mode() const { return relay_mode_; }
  // Whether connections count what only the metrics read (bytes relayed,
  // connect and response durations): tuning.connection-metrics.
  bool metrics_counting() const { return metrics_counting_; }
  BufferPool& buffers() { return buffers_; }
  // Idle keep-alive connections to HTTP servers (this worker's sockets).
  KeepalivePool& keepalive() { return keepalive_; }
  PipePool& pipes() { return pipes_; }
  // The io_context's reactor, for waits that need no re-arm
  // (net/readable_wait.h).
  net::Reactor& reactor() { return reactor_; }
  // Worker thread only. The balancer over the newest snapshot the worker has
  // received for `pool`; for a pool of an older configuration, the balancer
  // of the pool of the same name now (a connection that retries after a
  // reload); nullptr when no such pool is left.
  balancer::Balancer* balancer_for(const PoolRuntime& pool);

  // Any thread: hands a new snapshot of `pool` to this worker, which builds
  // a fresh balancer from it on its own thread. Connections in flight keep
  // the snapshot they picked from. Ignored when `pool` has been replaced by
  // a reload meanwhile (the generation carried a newer snapshot).
  void publish(std::shared_ptr<const PoolRuntime> pool,
               std::shared_ptr<const balancer::PoolSnapshot> snapshot);

  // Installs a configuration: new balancers for every pool, and the
  // listening addresses (accept loops start for new ones; kept ones switch
  // to their new listener; those not listed close, their connections go on).
  // install() before start(); post_install() from any thread after.
  void install(WorkerGeneration generation);
  void post_install(WorkerGeneration generation);

  // Passive health: called (on this worker's thread) when a server of `pool`
  // has failed `outlier.consecutive-failures` connects in a row. The runtime
  // sets it before start; it hands the report to the control plane. By the
  // server's id: its index may mean another server in a newer snapshot.
  using OutlierHook = std::function<void(const PoolRuntime& pool, std::uint64_t server_id)>;
  void set_outlier_hook(OutlierHook hook) { outlier_hook_ = std::move(hook); }
  void report_outlier(const PoolRuntime& pool, std::uint64_t server_id) {
    if (outlier_hook_) outlier_hook_(pool, server_id);
  }

  // Any thread: closes this worker's acceptors (graceful shutdown, step 1),
  // and its idle keep-alive client connections.
  void stop_accepting();
  // Graceful stop has begun: sessions close after what they are doing.
  bool stopping() const { return stopping_; }

  // What a listener's protocol keeps on this worker beyond one
  // configuration (the sip listener's transactions and calls, which must
  // outlive a reload), by listener name and protocol. install() removes the
  // entries of listeners the new configuration no longer has, calling their
  // `removed` first. Worker thread only.
  struct ListenerState {
    std::shared_ptr<void> state;
    std::function<void()> removed;
  };
  ListenerState& listener_state(const std::string& listener, config::Protocol protocol);

  // Client connections idle between two requests (HTTP keep-alive),
  // registered while they wait: a graceful stop or a reload that retires
  // their listener cancels the wait and they close. Worker thread only.
  struct IdleClient {
    tcp::socket* socket;
    const std::atomic<bool>* retired;  // its listener's; nullptr: only a stop closes it
  };
  void add_idle(IdleClient c) { idle_clients_.push_back(c); }
  void remove_idle(const tcp::socket* socket) {
    std::erase_if(idle_clients_, [socket](const IdleClient& c) { return c.socket == socket; });
  }
  // Any thread: cancels the waits of idle clients whose listener is retired
  // (or all of them when stopping).
  void close_idle();

  // When a worker fails (docs/architecture.md): a loop of this worker (its
  // run(), an accept loop, a datagram loop) ended by the exception `e`.
  // Logs it; true when the loop may be restarted, false when faults repeat
  // too often (CrashBudget), in which case the fatal hook has been called
  // and the process ends with exit 3. Worker thread only.
  bool survive(std::string_view loop, std::exception_ptr e);
  // Set before start by the runtime: ends the process (exit 3). Called on
  // the worker's thread.
  using FatalHook = std::function<void(std::string reason)>;
  void set_fatal_hook(FatalHook hook) { fatal_hook_ = std::move(hook); }
  // Any thread: how long ago the worker's loop last turned (a heartbeat
  // every kHeartbeat), or nullopt once its thread has ended. /healthz fails
  // when a worker is dead or stuck.
  static constexpr std::chrono::seconds kHeartbeat{1};
  std::optional<std::chrono::steady_clock::duration> since_heartbeat() const;

  void start();
  void stop();  // any thread: stops the loop; sessions still open are dropped
  void join();

 private:
  unsigned id_;
  // Declared before the io_context so that they outlive it: destroying the
  // io_context destroys the relays still pending in it (a shutdown past the
  // grace period), and those give their buffers and pipes back on the way.
  BufferPool buffers_;
  PipePool pipes_;
  // One thread runs it and only that thread touches its sockets, so Asio can
  // skip the per-descriptor locks; posting from other threads stays safe
  // (the scheduler keeps its lock).
  asio::io_context io_{BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO};
  net::Reactor reactor_{io_};
  // Keeps run() going while the worker has nothing of its own (no acceptor:
  // the shared-acceptor model, or a reload that moved its listeners).
  asio::executor_work_guard<asio::io_context::executor_type> keep_running_{io_.get_executor()};
  // After the io_context: its sockets close before the io_context goes.
  KeepalivePool keepalive_{io_};
  config::RelayMode relay_mode_;
  bool metrics_counting_;
  struct PoolSlot {
    std::shared_ptr<const PoolRuntime> runtime;
    std::unique_ptr<balancer::Balancer> balancer;
  };
  std::vector<PoolSlot> pools_;
  // Shared with their accept loops, which outlive a slot that a reload closes.
  std::vector<std::shared_ptr<AcceptorSlot>> acceptors_;
  std::thread thread_;
  OutlierHook outlier_hook_;
  FatalHook fatal_hook_;
  CrashBudget crashes_;
  asio::steady_timer heartbeat_{io_};
  std::atomic<std::int64_t> last_beat_{0};  // steady_clock ticks
  std::atomic<bool> running_{false};
  bool stopping_ = false;  // worker thread
  std::vector<IdleClient> idle_clients_;
  // After the io_context: what the states hold closes before it goes.
  std::map<std::pair<std::string, config::Protocol>, ListenerState> listener_states_;
  void beat();
};

}  // namespace sb::runtime
