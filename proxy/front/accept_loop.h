#pragma once
// The accept loop of one listening address on one worker, and the life of
// each accepted connection up to its protocol: front door, then the
// listener's handler. Names no protocol.

#include <cstdint>
#include <memory>

#include "proxy/worker/worker.h"

namespace sb::runtime {

// Starts serving `slot` on `worker` (its thread, or before it starts): the
// accept loop, and the handler's datagram entry when the slot has a UDP
// socket. Each ends when its socket closes.
void serve_slot(Worker& worker, std::shared_ptr<AcceptorSlot> slot);

// Connections that ended by an escaped exception (a bug); for the metrics.
std::uint64_t session_exceptions();

}  // namespace sb::runtime
