#pragma once
// What a listener's protocol is to the rest of the proxy: one handler per
// listener, made from its configuration by make_handler()
// (handler_factory.h), owning the protocol's per-listener state. The accept
// loop and the workers know no protocol by name; they call these entries.
//
//   stream entry:   serve(worker, client) for every client the front door
//                   admitted (front/front_door.h) on that worker's thread;
//   datagram entry: start_datagrams(worker, slot) once per worker and
//                   address, for protocols that also listen on UDP there
//                   (dns; sip will).

#include <memory>

#include "proxy/asio.h"
#include "proxy/front/admitted_client.h"
#include "proxy/front/front_door.h"

namespace sb::runtime {

class Worker;
struct AcceptorSlot;

class ProtocolHandler {
 public:
  virtual ~ProtocolHandler() = default;

  // What the front door does before serve() (first byte, local address).
  virtual FrontPolicy front_policy() const = 0;

  // Serves one admitted client on `worker`'s thread. It may return before
  // the connection ends (the L4 relay goes on by itself); the client's
  // listener stays alive through `client.listener` until then.
  virtual awaitable<void> serve(Worker& worker, AdmittedClient client) = 0;

  // Whether the listener also serves UDP on each of its addresses.
  virtual bool datagrams() const { return false; }
  // Starts the receive loop of `slot->udp` on `worker` (its thread, or before
  // it starts). The loop reads `slot->listener` at each wakeup: a reload can
  // hand a kept address to the listener of the same protocol in the new
  // configuration. It ends when the socket closes.
  virtual void start_datagrams(Worker& /*worker*/, std::shared_ptr<AcceptorSlot> /*slot*/) {}
};

}  // namespace sb::runtime
