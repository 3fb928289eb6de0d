#pragma once
// One event-loop thread: its own io_context, its own acceptors (SO_REUSEPORT,
// so the kernel spreads new connections across workers), its own balancers
// and relay resources. Nothing here is shared with other workers except the
// read-only snapshots and the atomic counters they point to.

#include <functional>
#include <list>
#include <memory>
#include <thread>
#include <vector>

#include "balancer/balancer.h"
#include "proxy/runtime/asio.h"
#include "proxy/runtime/pool_registry.h"
#include "proxy/runtime/relay_resources.h"

namespace sb::runtime {

// How the L4 relay moves bytes (docs/architecture.md):
//   automatic: recv/send through a buffer until a read fills it, then splice(2)
//              for that direction (small exchanges stay cheap, bulk goes zero-copy)
//   copy, splice: always one way (for measurements)
enum class RelayMode { automatic, copy, splice };

class Worker {
 public:
  Worker(unsigned id, PoolRegistry& pools, RelayMode relay_mode);
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  unsigned id() const { return id_; }
  asio::io_context& io() { return io_; }
  RelayMode relay_mode() const { return relay_mode_; }
  // Whether connections count what only the metrics read (bytes relayed,
  // connect and response durations). Off only for measuring their cost
  // (SWITCHBOARD_METRICS=off, bench/run's switchboard-nometrics).
  bool metrics_counting() const { return metrics_counting_; }
  void set_metrics_counting(bool on) { metrics_counting_ = on; }
  BufferPool& buffers() { return buffers_; }
  PipePool& pipes() { return pipes_; }
  PoolRuntime& pool(std::size_t i) { return pools_.at(i); }

  // Worker thread only. The balancer of pool i over the newest snapshot the
  // worker has received.
  balancer::Balancer& balancer(std::size_t i) { return *balancers_[i]; }

  // Any thread: hands a new snapshot of pool i to this worker, which builds a
  // fresh balancer from it on its own thread. Connections in flight keep the
  // snapshot they picked from.
  void publish(std::size_t i, std::shared_ptr<const balancer::PoolSnapshot> snapshot);

  // Passive health: called (on this worker's thread) when a server of pool i
  // has failed `outlier.consecutive-failures` connects in a row. The runtime
  // sets it before start; it hands the report to the control plane. By the
  // server's id: its index may mean another server in a newer snapshot.
  using OutlierHook = std::function<void(std::size_t pool, std::uint64_t server_id)>;
  void set_outlier_hook(OutlierHook hook) { outlier_hook_ = std::move(hook); }
  void report_outlier(std::size_t pool, std::uint64_t server_id) {
    if (outlier_hook_) outlier_hook_(pool, server_id);
  }

  // Takes ownership of an acceptor that was opened on io(); the accept loop
  // runs on this worker once started.
  tcp::acceptor& adopt_acceptor(tcp::acceptor acceptor);
  // Any thread: closes this worker's acceptors (graceful shutdown, step 1).
  void stop_accepting();

  void start();
  void stop();  // any thread: stops the loop; sessions still open are dropped
  void join();

 private:
  unsigned id_;
  // One thread runs it and only that thread touches its sockets, so Asio can
  // skip the per-descriptor locks; posting from other threads stays safe
  // (the scheduler keeps its lock).
  asio::io_context io_{BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO};
  // Keeps run() going while the worker has nothing of its own (no acceptor:
  // the shared-acceptor model, or a reload that moved its listeners).
  asio::executor_work_guard<asio::io_context::executor_type> keep_running_{io_.get_executor()};
  PoolRegistry& pools_;
  RelayMode relay_mode_;
  bool metrics_counting_ = true;
  std::vector<std::unique_ptr<balancer::Balancer>> balancers_;
  std::list<tcp::acceptor> acceptors_;  // list: stable addresses for the loops
  BufferPool buffers_;
  PipePool pipes_;
  std::thread thread_;
  OutlierHook outlier_hook_;
};

}  // namespace sb::runtime
