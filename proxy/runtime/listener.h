#pragma once
// A configured listener at run time: its settings, counters and admission,
// shared by the acceptors that every worker runs for each of its addresses.

#include <memory>
#include <vector>

#include "proxy/config/config.h"
#include "proxy/runtime/admission.h"
#include "proxy/runtime/asio.h"
#include "proxy/runtime/listener_stats.h"
#include "proxy/runtime/worker.h"

namespace sb::runtime {

struct ListenerRuntime {
  ListenerRuntime(const config::ListenerConfig& cfg, std::size_t pool);

  config::ListenerConfig config;
  std::size_t pool_index;
  ListenerStats stats;
  Admission admission;
};

// Thrown when an address cannot be bound; what() names the address.
struct ListenError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Opens one SO_REUSEPORT acceptor per worker on each of the listener's
// addresses and starts the accept loops. Call before the workers start.
void open_listener(ListenerRuntime& listener, std::vector<std::unique_ptr<Worker>>& workers);

}  // namespace sb::runtime
