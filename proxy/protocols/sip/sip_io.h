#pragma once
// One worker's sockets for one sip listener (docs/architecture.md, "SIP
// calls"), and its proxy core:
//   - the listening UDP sockets (one per address, SO_REUSEPORT: the kernel
//     keeps a caller's address on one worker), read in batches by the
//     handler's loops; answers to callers leave through them;
//   - one UDP socket of its own toward the servers, on a port of its own, so
//     that the servers' answers (to its Via) and in-dialog requests (to its
//     Record-Route) come back to this worker and its transaction table;
//   - TCP: the callers' connections, and one connection per server that
//     this worker opens when a request goes to it over TCP.
// Datagrams are queued while a batch is handled and sent together
// (sendmmsg). Worker thread only.

#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "net/udp_batch.h"
#include "net/udp_send_queue.h"
#include "proxy/protocols/sip/sip_peer.h"
#include "proxy/protocols/sip/sip_proxy.h"

namespace sb::runtime {
struct AcceptorSlot;
}

namespace sb::sip {

class SipWorker final : public SipIo, public std::enable_shared_from_this<SipWorker> {
 public:
  SipWorker(runtime::Worker& worker, const config::ListenerConfig& listener,
            std::shared_ptr<const runtime::PoolRuntime> pool, SipSettings settings,
            std::shared_ptr<runtime::ListenerStats> stats);
  ~SipWorker() override;

  // Starts the loop of the server-side UDP socket (once, on the worker).
  void start();
  // A reload kept the listener: new settings and pool for what starts from
  // now; transactions in flight finish on the pool they started with.
  void reconfigure(const config::ListenerConfig& listener,
                   std::shared_ptr<const runtime::PoolRuntime> pool, SipSettings settings);
  // Closes every socket and link of this worker's share (the listener is
  // gone). Worker thread.
  void shutdown();

  SipProxy& proxy() { return proxy_; }
  runtime::Worker& worker() { return worker_; }
  // The listening UDP socket of `slot` as a caller's way back: its index.
  std::size_t listening(const std::shared_ptr<runtime::AcceptorSlot>& slot);

  void send(const Peer& to, std::string_view bytes) override;
  void flush() override;
  LocalAddress local_for(const Peer& to) override;
  Peer server_peer(const udp::endpoint& server, bool tcp) override;
  bool is_own(std::string_view host, std::uint16_t port) const override;

 private:
  struct Listening {
    // Weak: the slot holds its listener, whose handler holds this worker's
    // share; a strong reference here would make a cycle that outlives both.
    std::weak_ptr<runtime::AcceptorSlot> slot;
    const runtime::AcceptorSlot* key = nullptr;  // identity, for listening()
    std::string sent_by;
    std::string record_route;
  };
  awaitable<void> server_loop();
  awaitable<void> server_link_loop(std::shared_ptr<SipLink> link,
                                   std::chrono::milliseconds timeout);

  runtime::Worker& worker_;
  void set_addresses(const config::ListenerConfig& listener);

  std::vector<std::string> own_hosts_;  // listening hosts and ports, for is_own
  std::vector<std::uint16_t> own_ports_;
  std::string tcp_sent_by_;
  std::string tcp_record_route_;
  std::vector<Listening> listening_;
  udp::socket server_socket_;
  std::string server_sent_by_;
  std::string server_record_route_;
  std::chrono::milliseconds connect_timeout_;
  std::chrono::milliseconds idle_timeout_;
  std::unordered_map<std::string, std::shared_ptr<SipLink>> server_links_;
  net::UdpSendQueue queue_;
  SipProxy proxy_;
};

}  // namespace sb::sip
