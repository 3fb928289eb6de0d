#pragma once
// The L4 session that `tcp` and smtp passthrough share: present the admitted
// client to the pool's servers until one accepts (UpstreamAttempt), pass on
// what the acceptance step owes the client, then hand both sockets to the
// relay and log one access line when it ends. Runs on the worker that
// accepted the client.

#include <string_view>

#include "proxy/asio.h"
#include "proxy/control/pool_registry.h"
#include "proxy/front/admitted_client.h"
#include "proxy/upstream/accept_step.h"
#include "proxy/worker/worker.h"

namespace sb::runtime {

struct L4Options {
  // What a server must do before it has accepted the client (null: connect).
  AcceptStep* accept = nullptr;
  // Written to the client when no server accepted it (smtp: 421); empty:
  // the connection is just closed.
  std::string_view when_exhausted;
  // Close a client that sends nothing by client.first_byte_deadline.
  bool first_byte_deadline = false;
};

// Returns when the relay has taken the connection over (or it ended before).
awaitable<void> serve_l4(Worker& worker, AdmittedClient client, const PoolRuntime& pool,
                         L4Options options);

}  // namespace sb::runtime
