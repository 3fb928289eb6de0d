#include "proxy/protocols/sip/sip_io.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "net/endpoint.h"
#include "proxy/worker/worker.h"

namespace sb::sip {
namespace {

std::string host_port(const asio::ip::address& address, std::uint16_t port) {
  return address.is_v6() ? fmt::format("[{}]:{}", address.to_string(), port)
                         : fmt::format("{}:{}", address.to_string(), port);
}

std::string record_route(std::string_view sent_by, bool tcp) {
  return fmt::format("<sip:{};{}lr>", sent_by, tcp ? "transport=tcp;" : "");
}

asio::ip::address first_address(const config::ListenerConfig& listener) {
  for (const config::HostPort& hp : listener.listen) {
    error_code ec;
    const auto a = asio::ip::make_address(hp.host, ec);
    if (!ec) return a;
  }
  return asio::ip::address_v4::loopback();
}

std::uint16_t first_port(const config::ListenerConfig& listener) {
  return listener.listen.empty() ? 5060 : listener.listen.front().port;
}

}  // namespace

SipWorker::SipWorker(runtime::Worker& worker, const config::ListenerConfig& listener,
                     std::shared_ptr<const runtime::PoolRuntime> pool, SipSettings settings,
                     std::shared_ptr<runtime::ListenerStats> stats)
    : worker_(worker),
      server_socket_(worker.io()),
      connect_timeout_(pool->config.connect_timeout),
      idle_timeout_(listener.idle_timeout),
      proxy_(worker, pool, std::move(settings), stats, *this) {
  const asio::ip::address address = first_address(listener);
  // The worker's own port toward the servers: their answers and requests
  // come back to this worker, whatever the kernel's hash of the listening
  // port would choose.
  const udp::endpoint bind_to(address, 0);
  server_socket_.open(bind_to.protocol());
  server_socket_.bind(bind_to);
  server_socket_.non_blocking(true);
  const udp::endpoint local = server_socket_.local_endpoint();
  server_sent_by_ = host_port(address, local.port());
  server_record_route_ = record_route(server_sent_by_, false);
  set_addresses(listener);
}

void SipWorker::set_addresses(const config::ListenerConfig& listener) {
  own_hosts_.clear();
  own_ports_.clear();
  for (const config::HostPort& hp : listener.listen) {
    own_hosts_.push_back(hp.host);
    own_ports_.push_back(hp.port);
  }
  error_code ec;
  const udp::endpoint local = server_socket_.local_endpoint(ec);
  own_hosts_.push_back(local.address().to_string());
  own_ports_.push_back(local.port());
  tcp_sent_by_ = host_port(first_address(listener), first_port(listener));
  tcp_record_route_ = record_route(tcp_sent_by_, true);
}

void SipWorker::reconfigure(const config::ListenerConfig& listener,
                            std::shared_ptr<const runtime::PoolRuntime> pool,
                            SipSettings settings) {
  set_addresses(listener);
  connect_timeout_ = pool->config.connect_timeout;
  idle_timeout_ = listener.idle_timeout;
  proxy_.reconfigure(std::move(pool), std::move(settings));
}

SipWorker::~SipWorker() = default;

void SipWorker::start() {
  asio::co_spawn(
      worker_.io(), [self = shared_from_this()] { return self->server_loop(); },
      [](std::exception_ptr e) {
        if (!e) return;
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          spdlog::error("sip server-side loop ended: {}", ex.what());
        }
      });
}

void SipWorker::shutdown() {
  error_code ignored;
  server_socket_.close(ignored);
  for (auto& [key, link] : server_links_) link->close();
  server_links_.clear();
  proxy_.stop();
}

std::size_t SipWorker::listening(const std::shared_ptr<runtime::AcceptorSlot>& slot) {
  for (std::size_t i = 0; i < listening_.size(); ++i) {
    if (listening_[i].key != slot.get()) continue;
    if (!listening_[i].slot.expired()) return i;
    listening_[i].slot = slot;  // a new slot where a closed one was
    return i;
  }
  Listening l;
  l.slot = slot;
  l.key = slot.get();
  error_code ec;
  const udp::endpoint local = slot->udp ? slot->udp->local_endpoint(ec) : udp::endpoint{};
  l.sent_by = host_port(local.address(), local.port());
  l.record_route = record_route(l.sent_by, false);
  listening_.push_back(std::move(l));
  return listening_.size() - 1;
}

void SipWorker::send(const Peer& to, std::string_view bytes) {
  switch (to.kind) {
    case Peer::Kind::udp_caller: {
      if (to.socket >= listening_.size()) return;
      const auto slot = listening_[to.socket].slot.lock();
      if (!slot || !slot->udp || !slot->udp->is_open()) return;
      queue_.add(slot->udp->native_handle(), to.address, bytes);
      return;
    }
    case Peer::Kind::udp_server:
      if (server_socket_.is_open()) queue_.add(server_socket_.native_handle(), to.address, bytes);
      return;
    case Peer::Kind::tcp:
      if (to.link) to.link->send(bytes);
      return;
    case Peer::Kind::none:
      return;
  }
}

void SipWorker::flush() {
  if (!queue_.empty()) queue_.flush();
}

LocalAddress SipWorker::local_for(const Peer& to) {
  switch (to.kind) {
    case Peer::Kind::udp_caller:
      if (to.socket < listening_.size()) {
        const Listening& l = listening_[to.socket];
        return {"UDP", l.sent_by, l.record_route};
      }
      return {"UDP", server_sent_by_, server_record_route_};
    case Peer::Kind::udp_server:
      return {"UDP", server_sent_by_, server_record_route_};
    default:
      return {"TCP", tcp_sent_by_, tcp_record_route_};
  }
}

bool SipWorker::is_own(std::string_view host, std::uint16_t port) const {
  if (port == 0) port = 5060;
  for (std::size_t i = 0; i < own_hosts_.size(); ++i) {
    if (own_ports_[i] != port) continue;
    if (own_hosts_[i] == host || own_hosts_[i] == "0.0.0.0" || own_hosts_[i] == "::") return true;
  }
  return false;
}

Peer SipWorker::server_peer(const udp::endpoint& server, bool tcp) {
  Peer p;
  p.address = server;
  if (!tcp) {
    p.kind = Peer::Kind::udp_server;
    return p;
  }
  p.kind = Peer::Kind::tcp;
  const std::string key = host_port(server.address(), server.port());
  if (auto it = server_links_.find(key); it != server_links_.end() && it->second->open()) {
    p.link = it->second;
    return p;
  }
  error_code ec;
  tcp::socket socket(worker_.io());
  const tcp::endpoint remote(server.address(), server.port());
  socket.open(remote.protocol(), ec);
  if (ec) {
    spdlog::warn("sip: cannot open a connection to {}: {}", key, ec.message());
    return Peer{};
  }
  auto link = std::make_shared<SipLink>(std::move(socket), remote, false);
  server_links_[key] = link;
  p.link = link;
  asio::co_spawn(
      worker_.io(),
      [self = shared_from_this(), link, timeout = connect_timeout_] {
        return self->server_link_loop(link, timeout);
      },
      asio::detached);
  // The loop ran until its first wait: a connect that failed at once
  // (no route, no source address) has closed the link already.
  if (!link->open()) return Peer{};
  return p;
}

awaitable<void> SipWorker::server_link_loop(std::shared_ptr<SipLink> link,
                                            std::chrono::milliseconds timeout) {
  if (co_await link->connect(timeout)) {
    const Peer from{Peer::Kind::tcp, {}, link, 0};
    co_await link->read(
        [this, &from](std::string_view m) {
          proxy_.receive(m, from);
          flush();
        },
        [this] { proxy_.too_large(); }, idle_timeout_);
  }
  link->close();
  const std::string key = host_port(link->remote().address(), link->remote().port());
  if (auto it = server_links_.find(key); it != server_links_.end() && it->second == link) {
    server_links_.erase(it);
  }
  proxy_.link_failed(link.get());
}

awaitable<void> SipWorker::server_loop() {
  auto batch = std::make_unique<net::UdpBatch>(65536, 1);
  for (;;) {
    auto [ec] = co_await server_socket_.async_wait(udp::socket::wait_read, use_nothrow);
    if (ec == asio::error::operation_aborted || !server_socket_.is_open()) co_return;
    for (int round = 0; round < 4; ++round) {
      const std::size_t n = batch->receive(server_socket_.native_handle());
      for (std::size_t i = 0; i < n; ++i) {
        const auto bytes = batch->datagram(i);
        const Peer from{Peer::Kind::udp_server, batch->source(i), nullptr, 0};
        proxy_.receive({reinterpret_cast<const char*>(bytes.data()), bytes.size()}, from);
      }
      flush();
      if (n < net::UdpBatch::kSize) break;
    }
  }
}

}  // namespace sb::sip
