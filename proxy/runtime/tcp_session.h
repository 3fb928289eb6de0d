#pragma once
// The L4 `tcp` session: admit, optionally read the upstream balancer's PROXY
// header, present the connection to servers until one accepts, relay, and log
// one access line. Runs on the worker that accepted the socket.

#include "proxy/runtime/asio.h"
#include "proxy/runtime/listener.h"
#include "proxy/runtime/worker.h"

namespace sb::runtime {

// Spawns the session; never throws. An exception that escapes the session is
// logged with the connection's id and counted, and the connection is closed.
// `peer` is the client's address as accept(2) reported it.
void start_tcp_session(Worker& worker, std::shared_ptr<ListenerRuntime> listener,
                       tcp::socket socket, const tcp::endpoint& peer);

// Sessions that ended by an escaped exception (a bug); for the metrics.
std::uint64_t session_exceptions();

}  // namespace sb::runtime
