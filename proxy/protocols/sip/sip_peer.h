#pragma once
// Who a SIP message came from or goes to, and what the proxy needs from its
// sockets to reach them (sip_io.h implements it).

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "balancer/balancer.h"
#include "proxy/asio.h"
#include "proxy/protocols/sip/sip_link.h"

namespace sb::sip {

struct Peer {
  enum class Kind : std::uint8_t { none, udp_caller, udp_server, tcp };
  Kind kind = Kind::none;
  udp::endpoint address;          // UDP: where to send; TCP: the remote end
  std::shared_ptr<SipLink> link;  // TCP: the connection
  std::size_t socket = 0;         // udp_caller: the listening address it came to

  bool tcp() const { return kind == Kind::tcp; }
  // The same end: the same TCP connection, or the same UDP address (a
  // server's in-dialog request may come to the listening address or to the
  // worker's server-side one).
  bool same(const Peer& other) const {
    if (tcp() != other.tcp()) return false;
    return tcp() ? link == other.link : address == other.address;
  }
};

// The proxy's own address toward a peer: what its Via says and what its
// Record-Route names, so that the peer's responses and in-dialog requests
// come back to this worker.
struct LocalAddress {
  std::string_view transport;     // "UDP" | "TCP"
  std::string_view sent_by;       // host:port
  std::string_view record_route;  // "<sip:host:port;lr>" (";transport=tcp" for TCP)
};

class SipIo {
 public:
  virtual ~SipIo() = default;
  // Sends (TCP) or queues (UDP, until flush()) one message.
  virtual void send(const Peer& to, std::string_view bytes) = 0;
  virtual void flush() = 0;
  virtual LocalAddress local_for(const Peer& to) = 0;
  // A server of the pool as a peer over TCP or UDP. Over TCP, the worker's
  // connection to it (made now if there is none; when it fails, the proxy
  // hears of it through SipProxy::link_failed).
  // Kind none: no connection can be made (a local fault).
  virtual Peer server_peer(const udp::endpoint& server, bool tcp) = 0;
  // Whether host:port (a Request-URI, a Route) names this listener.
  virtual bool is_own(std::string_view host, std::uint16_t port) const = 0;
};

}  // namespace sb::sip
