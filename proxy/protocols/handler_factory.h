#pragma once
// The one place that maps a listener's `protocol:` to its handler.

#include <functional>
#include <memory>
#include <string>

#include "proxy/config/config.h"
#include "proxy/control/pool_registry.h"
#include "proxy/front/listener_stats.h"
#include "proxy/protocols/protocol_handler.h"

namespace sb::runtime {

struct HandlerContext {
  // The pool called `name` in the configuration being prepared; throws
  // std::runtime_error (ListenError) when there is none.
  std::function<std::shared_ptr<const PoolRuntime>(const std::string& name)> pool_named;
  std::size_t workers = 1;
  std::shared_ptr<ListenerStats> stats;  // the listener's counters
};

// Throws std::invalid_argument for a protocol this build does not serve
// (the configuration check refuses those first: control/unsupported.h).
std::unique_ptr<ProtocolHandler> make_handler(const config::ListenerConfig& listener,
                                              const HandlerContext& context);

}  // namespace sb::runtime
