#include "proxy/front/front_door.h"

#include <spdlog/spdlog.h>

#include "net/endpoint.h"
#include "net/socket_deadline.h"
#include "proxy/front/proxy_header_reader.h"
#include "proxy/worker/worker.h"

namespace sb::runtime {

FrontDoor::FrontDoor(const config::ListenerConfig& cfg, ListenerStats& stats)
    : name_(cfg.name),
      accept_proxy_(cfg.accept_proxy),
      proxy_from_(cfg.proxy_from),
      proxy_header_timeout_(cfg.proxy_header_timeout),
      first_byte_timeout_(cfg.client_first_byte_timeout),
      stats_(stats),
      admission_(cfg, stats) {}

std::optional<AdmissionTicket> FrontDoor::admit_source(const tcp::endpoint& source) {
  const net::IpAddress ip = net::to_ip(source.address());
  if (!admission_.acl_allows(ip)) return std::nullopt;
  return admission_.admit(ip);
}

bool FrontDoor::trusted_proxy(const net::IpAddress& peer) const {
  for (const auto& c : proxy_from_) {
    if (c.contains(peer)) return true;
  }
  return false;
}

awaitable<std::optional<AdmittedClient>> FrontDoor::admit(std::shared_ptr<ListenerRuntime> listener,
                                                          tcp::socket socket, tcp::endpoint peer,
                                                          FrontPolicy policy, std::uint64_t id,
                                                          Worker* worker) {
  AdmittedClient c{std::move(listener),
                   std::move(socket),
                   {},
                   {peer, {}},
                   {},
                   AdmittedClient::Clock::now(),
                   {},
                   id};
  c.first_byte_deadline = c.accepted + first_byte_timeout_;

  // Without accept-proxy the socket's peer is the client: a refused one is
  // closed before anything else. With it, only the peers that may speak for
  // clients get as far as sending a header, and a connection waiting for one
  // holds a slot of max-connections already (header-less connections cannot
  // take more descriptors than that); the client the header names is
  // admitted (or not) once it is read, and the per-source limit is its own.
  if (!accept_proxy_) {
    auto ticket = admit_source(peer);
    if (!ticket) co_return std::nullopt;
    c.ticket = std::move(*ticket);
  } else if (!trusted_proxy(net::to_ip(peer.address()))) {
    admission_.refuse(RejectReason::acl, net::to_ip(peer.address()));
    spdlog::debug("listener {}: {} is not in proxy-from: closed", name_, net::to_string(peer));
    co_return std::nullopt;
  } else {
    auto ticket = admission_.reserve(net::to_ip(peer.address()));
    if (!ticket) co_return std::nullopt;
    c.ticket = std::move(*ticket);
  }

  error_code ec;
  if (policy.local_endpoint) {
    c.endpoints.local = c.socket.local_endpoint(ec);
    if (ec) co_return std::nullopt;  // the client is gone already
  }
  c.socket.set_option(tcp::no_delay(true), ec);

  if (accept_proxy_) {
    auto header = co_await read_proxy_header(c.socket, proxy_header_timeout_);
    if (!header.ok) {
      stats_.count_rejected(RejectReason::proxy_header);
      spdlog::debug("listener {}: {} sent no valid PROXY header: {}", name_, net::to_string(peer),
                    header.error);
      co_return std::nullopt;
    }
    // LOCAL (the upstream balancer's own health check): the socket's ends.
    if (!header.addresses.local) {
      c.endpoints.client =
          tcp::endpoint(net::to_address(header.addresses.src), header.addresses.src_port);
      c.endpoints.local =
          tcp::endpoint(net::to_address(header.addresses.dst), header.addresses.dst_port);
    }
    c.early_data = std::move(header.early_data);
    const net::IpAddress client = net::to_ip(c.endpoints.client.address());
    if (!admission_.acl_allows(client) || !admission_.assign(c.ticket, client)) {
      co_return std::nullopt;
    }
  }

  if (policy.first_byte == FirstByte::wait && c.early_data.empty()) {
    const auto left = c.first_byte_deadline - AdmittedClient::Clock::now();
    net::SocketDeadline deadline(c.socket, std::max(left, AdmittedClient::Clock::duration::zero()));
    // A client that has sent nothing holds no request: a graceful stop
    // does not wait for it (a reload does not touch it).
    if (worker) worker->add_idle({&c.socket, nullptr});
    auto [wec] = co_await c.socket.async_wait(tcp::socket::wait_read, use_nothrow);
    if (worker) worker->remove_idle(&c.socket);
    co_await deadline.disarm();
    if (wec) {
      spdlog::debug("listener {}: {} sent nothing within {}ms: closed", name_,
                    net::to_string(c.endpoints.client), first_byte_timeout_.count());
      co_return std::nullopt;
    }
  }
  co_return std::optional<AdmittedClient>(std::move(c));
}

}  // namespace sb::runtime
