#pragma once
// The front door of every stream listener (docs/architecture.md): from an
// accepted socket to an AdmittedClient, the same for every protocol.
//
//   1. deny/allow and the connection limits on the socket's peer, closed at
//      once when refused; with `accept-proxy`, the peer must be in
//      `proxy-from` instead (counted as acl) and takes a slot of
//      `max-connections` at once, and deny/allow and the per-source limit
//      apply to the address in its header;
//   2. the PROXY v1/v2 header within `proxy-header-timeout`;
//   3. `client-first-byte-timeout`: waited for here when the protocol needs
//      the client to speak first (FirstByte::wait), or handed on as a
//      deadline for the protocol to keep (FirstByte::deadline: the L4 relay,
//      where a server may speak first).
//
// One FrontDoor per listener, shared by its acceptors on every worker
// (Admission is thread-safe); admit() runs on the accepting worker.

#include <chrono>
#include <memory>
#include <optional>
#include <vector>

#include "proxy/asio.h"
#include "proxy/config/config.h"
#include "proxy/front/admission.h"
#include "proxy/front/admitted_client.h"
#include "proxy/front/listener_stats.h"

namespace sb::runtime {

class Worker;

enum class FirstByte {
  none,      // the server speaks first (smtp) or the protocol has its own (dns)
  deadline,  // AdmittedClient::first_byte_deadline is the protocol's to enforce
  wait,      // the front door waits for the first byte before handing over
};

// What a protocol asks of the front door (ProtocolHandler::front_policy).
struct FrontPolicy {
  FirstByte first_byte = FirstByte::none;
  // The address the client reached (for a PROXY header to servers): one
  // getsockname(2) that most connections can spare.
  bool local_endpoint = false;
};

class FrontDoor {
 public:
  FrontDoor(const config::ListenerConfig& cfg, ListenerStats& stats);

  // Datagram protocols: deny/allow for one datagram's source (counted as acl
  // when refused). Any thread.
  bool acl_allows(const net::IpAddress& source) { return admission_.acl_allows(source); }

  // The refusals' log lines (control thread: report() once a second).
  RefusalLog& refusals() { return admission_.refusals(); }

  // Runs steps 1-3 for one accepted socket; nullopt when the client was
  // refused or left (closed, counted and logged at debug here).
  // `worker`: where the connection runs; a graceful stop there closes a
  // client still waiting to send its first byte (nullptr: tests).
  awaitable<std::optional<AdmittedClient>> admit(std::shared_ptr<ListenerRuntime> listener,
                                                 tcp::socket socket, tcp::endpoint peer,
                                                 FrontPolicy policy, std::uint64_t id,
                                                 Worker* worker = nullptr);

 private:
  std::optional<AdmissionTicket> admit_source(const tcp::endpoint& source);
  bool trusted_proxy(const net::IpAddress& peer) const;

  std::string name_;
  bool accept_proxy_;
  std::vector<net::Cidr> proxy_from_;
  std::chrono::milliseconds proxy_header_timeout_;
  std::chrono::milliseconds first_byte_timeout_;
  ListenerStats& stats_;
  Admission admission_;
};

}  // namespace sb::runtime
