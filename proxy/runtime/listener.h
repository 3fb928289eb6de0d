#pragma once
// A configured listener at run time: its settings, counters and admission,
// shared by the acceptors that every worker runs for each of its addresses;
// and ListenerSet, which opens and keeps those addresses across reloads.

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "proxy/config/config.h"
#include "proxy/runtime/admission.h"
#include "proxy/runtime/asio.h"
#include "proxy/runtime/listener_stats.h"
#include "proxy/runtime/pool_registry.h"
#include "proxy/runtime/worker.h"

namespace sb::dns {
class Answerer;
}

namespace sb::runtime {

// Immutable settings for the connections it accepts (each holds it until it
// ends); a reload makes a new one.
struct ListenerRuntime {
  ListenerRuntime(const config::ListenerConfig& cfg, std::shared_ptr<const PoolRuntime> pool,
                  std::shared_ptr<ListenerStats> stats);
  ~ListenerRuntime();

  config::ListenerConfig config;
  std::shared_ptr<const PoolRuntime> pool;  // tcp, smtp (dns: null)
  // dns: the pool of each of dns.records, and one answerer per worker (by
  // worker id; each used by its worker's thread only: its rotation).
  std::vector<std::shared_ptr<const PoolRuntime>> record_pools;
  std::vector<std::unique_ptr<dns::Answerer>> answerers;
  // Shared with the listener of the same name in other configurations.
  std::shared_ptr<ListenerStats> stats;
  Admission admission;
};

// Thrown when an address cannot be bound; what() names the address.
struct ListenError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Runs the accept loop of one slot on `worker` (worker thread, or before the
// worker starts). It ends when the slot's acceptor closes.
void start_accept_loop(Worker& worker, std::shared_ptr<AcceptorSlot> slot);

// The listeners of the running configuration and the addresses they hold
// open (control thread).
class ListenerSet {
 public:
  explicit ListenerSet(std::vector<std::unique_ptr<Worker>>& workers) : workers_(workers) {}

  struct Plan {
    std::vector<std::shared_ptr<ListenerRuntime>> listeners;
    std::vector<std::vector<WorkerGeneration::Address>> per_worker;  // by worker
    std::set<std::string> addresses;
  };
  // The listeners of `cfg` over `pools`. Addresses open now are kept (their
  // sockets move to the new listener); new ones are bound here, one
  // SO_REUSEPORT acceptor per worker. Throws ListenError when one cannot be
  // bound: nothing has changed then (the plan's sockets close with it).
  Plan prepare(const config::Config& cfg, const PoolRegistry::Pools& pools) const;
  // The plan's listeners become the current ones; hand plan.per_worker to
  // the workers.
  void commit(Plan& plan);

  const std::vector<std::shared_ptr<ListenerRuntime>>& current() const { return current_; }
  // Connections open on every listener, those of removed ones included.
  std::int64_t active();

 private:
  std::vector<std::unique_ptr<Worker>>& workers_;
  std::vector<std::shared_ptr<ListenerRuntime>> current_;
  std::set<std::string> open_;
  // Counters of removed listeners while their connections last.
  std::vector<std::shared_ptr<ListenerStats>> retired_;
};

}  // namespace sb::runtime
