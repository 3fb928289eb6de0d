#pragma once
// Moves bytes both ways between a client and a server until both directions
// have ended (ARCHITECTURE.md §2 step 6).
//
// - Back-pressure: each direction awaits its write before it reads again.
// - Half-close: when one side stops sending, the other side's write half is
//   shut down and the opposite direction keeps flowing until it ends too.
// - A reset or error on either side closes both.
// - idle: no byte in either direction for this long closes both.
// - No allocation per byte: buffers (copy mode) or pipes (splice mode) are
//   borrowed from the worker only while bytes are in flight.
// Runs on the worker thread that owns both sockets.

#include <chrono>
#include <cstdint>
#include <string_view>

#include "balancer/server_stats.h"
#include "proxy/runtime/asio.h"
#include "proxy/runtime/worker.h"

namespace sb::runtime {

struct RelayResult {
  std::uint64_t from_client = 0;  // bytes read from the client (sent to the server)
  std::uint64_t to_client = 0;    // bytes read from the server (sent to the client)
  std::string_view outcome;       // "ok", "idle-timeout", "client-reset", "server-reset"
};

awaitable<RelayResult> relay(Worker& worker, tcp::socket& client, tcp::socket& server,
                             std::chrono::milliseconds idle_timeout, balancer::ServerStats& stats);

}  // namespace sb::runtime
