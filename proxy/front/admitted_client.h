#pragma once
// What the front door hands a protocol handler: a client that passed the
// listener's deny/allow lists, its connection limits and, with
// `accept-proxy`, a PROXY header from a trusted peer (docs/architecture.md,
// "The life of a connection").

#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "net/endpoint.h"
#include "proxy/asio.h"
#include "proxy/front/admission.h"

namespace sb::runtime {

struct ListenerRuntime;

struct AdmittedClient {
  using Clock = std::chrono::steady_clock;

  // The listener the connection came through, held to its end: a reload
  // never changes its settings under it. Declared first: it outlives the
  // ticket, which points into its admission.
  std::shared_ptr<ListenerRuntime> listener;
  tcp::socket socket;
  AdmissionTicket ticket;  // the connection's admission slot
  net::ClientEndpoints endpoints;
  std::vector<char> early_data;  // client bytes that arrived behind the PROXY header
  Clock::time_point accepted;
  // A client that has sent nothing by then is closed (client-first-byte-
  // timeout). Protocols whose server speaks first ignore it.
  Clock::time_point first_byte_deadline;
  std::uint64_t id = 0;  // for logs
};

}  // namespace sb::runtime
