#pragma once
// The listeners of the running configuration and the addresses they hold
// open (control thread): binding new addresses (one SO_REUSEPORT acceptor
// per worker, and a UDP socket each for protocols that serve datagrams),
// keeping those a reload keeps, closing the rest.

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "proxy/config/config.h"
#include "proxy/control/pool_registry.h"
#include "proxy/front/listener.h"
#include "proxy/listen_error.h"
#include "proxy/worker/worker.h"

namespace sb::runtime {

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
