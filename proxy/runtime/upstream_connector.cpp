#include "proxy/runtime/upstream_connector.h"

#include <spdlog/spdlog.h>

#include <array>
#include <cerrno>

#include "health/connect.h"
#include "health/socket_deadline.h"
#include "proxy/net/proxy_protocol.h"
#include "proxy/runtime/endpoint.h"
#include "proxy/runtime/transparent_source.h"

namespace sb::runtime {
namespace {

using balancer::ConnectFailure;

tcp::endpoint endpoint_of(const balancer::ServerView& s) {
  net::IpBytes ip;
  ip.v6 = s.ipv6;
  ip.bytes = s.ip;
  return tcp::endpoint(to_address(ip), s.port);
}

ConnectFailure classify(const error_code& ec) {
  if (ec == asio::error::connection_refused) return ConnectFailure::refused;
  if (ec == asio::error::timed_out) return ConnectFailure::timeout;
  return ConnectFailure::reset;
}

bool is_local_exhaustion(const error_code& ec) {
  return ec == asio::error::no_descriptors || ec.value() == ENFILE ||
         ec == asio::error::no_buffer_space || ec == asio::error::no_memory;
}

std::string_view failure_name(ConnectFailure f) {
  switch (f) {
    case ConnectFailure::refused:
      return "connection refused";
    case ConnectFailure::timeout:
      return "timed out";
    case ConnectFailure::banner:
      return "bad banner";
    case ConnectFailure::tls:
      return "tls handshake failed";
    case ConnectFailure::reset:
      return "connection reset";
  }
  return "failed";
}

net::ProxyAddresses proxy_addresses(const ClientEndpoints& e) {
  net::ProxyAddresses a;
  a.src = to_ip_bytes(e.client.address());
  a.src_port = e.client.port();
  a.dst = to_ip_bytes(e.local.address());
  a.dst_port = e.local.port();
  return a;
}

// Connects and sends the PROXY header, all within `timeout`. Returns the
// failure kind, or nullopt on success.
awaitable<std::optional<ConnectFailure>> try_server(tcp::socket& socket, tcp::endpoint target,
                                                    std::chrono::milliseconds timeout,
                                                    config::ProxyProtocol proxy_protocol,
                                                    const ClientEndpoints& endpoints,
                                                    bool transparent, error_code& error) {
  health::SocketDeadline deadline(socket, timeout);
  error_code ec;
  // source: client: open, mark transparent and bind the client's address
  // first; connect_nonblocking then uses the open socket.
  if (transparent) ec = open_transparent(socket, target, endpoints.client);
  if (!ec) ec = co_await health::connect_nonblocking(socket, target);
  if (!ec) {
    error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    if (proxy_protocol != config::ProxyProtocol::none) {
      std::array<char, net::kMaxV2> header{};
      const auto addresses = proxy_addresses(endpoints);
      const std::size_t len = proxy_protocol == config::ProxyProtocol::v1
                                  ? net::encode_v1(addresses, header)
                                  : net::encode_v2(addresses, header);
      auto [wec, n] =
          co_await asio::async_write(socket, asio::buffer(header.data(), len), use_nothrow);
      ec = wec;
    }
  }
  co_await deadline.disarm();
  if (!ec) co_return std::nullopt;  // in time, even if the deadline passed since
  if (deadline.expired()) {
    error = asio::error::timed_out;
    co_return ConnectFailure::timeout;
  }
  error = ec;
  co_return classify(ec);
}

}  // namespace

awaitable<ConnectOutcome> connect_upstream(Worker& worker, const PoolRuntime& pool,
                                           const ClientEndpoints& endpoints, AcceptStep* accept) {
  const config::PoolConfig& cfg = pool.config;
  ConnectOutcome out;

  const net::IpBytes client_ip = to_ip_bytes(endpoints.client.address()).unmapped();
  // At most 1 + retries servers; the config caps retries at 100.
  std::array<balancer::ServerIndex, 101> tried{};
  std::size_t tried_count = 0;
  const std::size_t max_attempts = std::min<std::size_t>(1 + cfg.retries, tried.size());

  while (tried_count < max_attempts) {
    // Looked up for each try: a reload may have replaced the pool meanwhile.
    balancer::Balancer* b = worker.balancer_for(pool);
    if (!b) break;  // the pool is gone from the configuration
    balancer::PickContext ctx;
    ctx.client_address =
        std::span<const std::uint8_t>(client_ip.bytes.data(), client_ip.v6 ? 16 : 4);
    ctx.tried = std::span<const balancer::ServerIndex>(tried.data(), tried_count);
    if (pool.options.slow_start.count() > 0) ctx.now = std::chrono::steady_clock::now();
    const auto pick = b->pick(ctx);
    if (!pick) break;
    auto snapshot = b->snapshot_ptr();
    const balancer::ServerView& view = snapshot->servers[pick->server];
    if (tried_count > 0) {
      ++out.retries;
      pool.stats->retries.fetch_add(1, std::memory_order_relaxed);
    }
    tried[tried_count++] = pick->server;
    out.tried = static_cast<int>(tried_count);

    tcp::socket socket(worker.io());
    error_code error;
    const auto started = std::chrono::steady_clock::now();
    auto failure =
        co_await try_server(socket, endpoint_of(view), cfg.connect_timeout, cfg.proxy_protocol,
                            endpoints, cfg.source == config::SourceMode::client, error);
    const auto connected = std::chrono::steady_clock::now();
    if (!failure && worker.metrics_counting()) {
      view.stats->connect_duration.observe(
          std::chrono::duration_cast<std::chrono::microseconds>(connected - started));
    }
    if (!failure && accept) {
      failure = co_await accept->accept(socket, view);
      if (!failure && worker.metrics_counting()) {
        view.stats->response_duration.observe(std::chrono::duration_cast<std::chrono::microseconds>(
            std::chrono::steady_clock::now() - connected));
      } else {
        error = asio::error::connection_aborted;  // for the log; the kind says what
        error_code ignored;
        socket.close(ignored);
      }
    }
    if (!failure) {
      view.stats->count_success();
      out.connection = UpstreamConnection{std::move(socket), std::move(snapshot), pick->server,
                                          balancer::ActiveConnection(view.stats.get())};
      co_return out;
    }
    if (is_local_exhaustion(error)) {
      // Out of descriptors or memory here: no server is to blame and every
      // other would fail the same way. Not counted against the server.
      spdlog::warn("pool {}: cannot open a connection to {}: {}", cfg.name, view.address,
                   error.message());
      break;
    }
    const std::uint32_t in_a_row = view.stats->count_failure(*failure);
    if (cfg.outlier.consecutive_failures > 0 &&
        in_a_row == static_cast<std::uint32_t>(cfg.outlier.consecutive_failures)) {
      worker.report_outlier(pool, view.id);
      // Counted anew from here: a server back from ejection gets a fresh run.
      view.stats->consecutive_failures.store(0, std::memory_order_relaxed);
    }
    spdlog::debug("pool {}: connect {} ({}) failed: {} ({})", cfg.name, view.address, view.name,
                  failure_name(*failure), error.message());
  }
  pool.stats->exhausted.fetch_add(1, std::memory_order_relaxed);
  co_return out;
}

}  // namespace sb::runtime
