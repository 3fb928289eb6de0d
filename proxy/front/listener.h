#pragma once
// A configured listener at run time: its settings, counters, front door and
// protocol handler, shared by the acceptors that every worker runs for each
// of its addresses. Immutable for the connections it accepts (each holds it
// until it ends); a reload makes a new one.

#include <atomic>
#include <memory>

#include "proxy/config/config.h"
#include "proxy/front/front_door.h"
#include "proxy/front/listener_stats.h"
#include "proxy/protocols/protocol_handler.h"

namespace sb::runtime {

struct ListenerRuntime {
  ListenerRuntime(const config::ListenerConfig& cfg, std::shared_ptr<ListenerStats> stats,
                  std::unique_ptr<ProtocolHandler> handler);

  config::ListenerConfig config;
  // The access log's `frontend`: the listen addresses, comma-separated.
  std::string frontend;
  // Shared with the listener of the same name in other configurations.
  std::shared_ptr<ListenerStats> stats;
  FrontDoor front;
  std::unique_ptr<ProtocolHandler> handler;
  // A reload replaced this listener (or switchboard is stopping): its
  // connections finish what they are doing and close, instead of taking
  // more requests on the old settings (HTTP keep-alive).
  std::atomic<bool> retired{false};
};

}  // namespace sb::runtime
