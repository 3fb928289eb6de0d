#include "proxy/upstream/attempt.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <cerrno>

#include "net/codec/proxy_protocol.h"
#include "net/connect.h"
#include "net/socket_deadline.h"
#include "proxy/upstream/transparent_source.h"

namespace sb::runtime {
namespace {

using balancer::ConnectFailure;

ConnectFailure classify(const error_code& ec) {
  if (ec == asio::error::connection_refused) return ConnectFailure::refused;
  if (ec == asio::error::timed_out) return ConnectFailure::timeout;
  return ConnectFailure::reset;
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

net::ProxyAddresses proxy_addresses(const net::ClientEndpoints& e) {
  net::ProxyAddresses a;
  a.src = net::to_ip(e.client.address());
  a.src_port = e.client.port();
  a.dst = net::to_ip(e.local.address());
  a.dst_port = e.local.port();
  return a;
}

// Connects and sends the PROXY header, all within `timeout`. Returns the
// failure kind, or nullopt on success.
awaitable<std::optional<ConnectFailure>> try_server(tcp::socket& socket, tcp::endpoint target,
                                                    std::chrono::milliseconds timeout,
                                                    config::ProxyProtocol proxy_protocol,
                                                    const net::ClientEndpoints& endpoints,
                                                    bool transparent, error_code& error) {
  net::SocketDeadline deadline(socket, timeout);
  error_code ec;
  // source: client: open, mark transparent and bind the client's address
  // first; connect_nonblocking then uses the open socket.
  if (transparent) ec = open_transparent(socket, target, endpoints.client);
  if (!ec) ec = co_await net::connect_nonblocking(socket, target);
  if (!ec) {
    error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    if (proxy_protocol != config::ProxyProtocol::none) {
      std::array<char, net::kMaxV2> header{};
      const auto addresses = proxy_addresses(endpoints);
      const std::size_t len = proxy_protocol == config::ProxyProtocol::v1
                                  ? net::encode_v1(addresses, header)
                                  : net::encode_v2(addresses, header);
      // Not through deadline.write(): a connection made just as the deadline
      // passed is in time, and a header of at most kMaxV2 bytes to a fresh
      // connection fits its empty send buffer, so this write never waits.
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

UpstreamAttempt::UpstreamAttempt(Worker& worker, const PoolRuntime& pool,
                                 const net::ClientEndpoints& endpoints,
                                 std::optional<std::uint64_t> hash_key)
    : worker_(worker),
      pool_(pool),
      endpoints_(endpoints),
      client_ip_(net::to_ip(endpoints.client.address()).unmapped()),
      hash_key_(hash_key),
      max_servers_(std::min<std::size_t>(
          1 + static_cast<std::size_t>(std::max(0, pool.config.retries)), kMaxServers)) {}

std::span<const balancer::ServerIndex> UpstreamAttempt::tried_in(
    const balancer::PoolSnapshot& snapshot) {
  // Few servers are ever tried (1 + retries), so a scan per pick is cheaper
  // than any index; the first pick scans nothing.
  std::size_t n = 0;
  for (std::size_t i = 0; i < tried_count_; ++i) {
    for (std::size_t s = 0; s < snapshot.servers.size(); ++s) {
      if (snapshot.servers[s].id == tried_ids_[i]) {
        tried_scratch_[n++] = static_cast<balancer::ServerIndex>(s);
        break;
      }
    }
  }
  return {tried_scratch_.data(), n};
}

std::optional<UpstreamStream> UpstreamAttempt::give_up(AttemptEnd why) {
  end_ = why;
  pool_.stats->exhausted.fetch_add(1, std::memory_order_relaxed);
  return std::nullopt;
}

void UpstreamAttempt::count_failure(const balancer::ServerView& view, ConnectFailure kind) {
  const std::uint32_t in_a_row = view.stats->count_failure(kind);
  const auto& outlier = pool_.config.outlier;
  if (outlier.consecutive_failures > 0 &&
      in_a_row == static_cast<std::uint32_t>(outlier.consecutive_failures)) {
    worker_.report_outlier(pool_, view.id);
    // Counted anew from here: a server back from ejection gets a fresh run.
    view.stats->consecutive_failures.store(0, std::memory_order_relaxed);
  }
}

void UpstreamAttempt::failed(const UpstreamStream& stream, ConnectFailure kind) {
  count_failure(stream.view(), kind);
  spdlog::debug("pool {}: {} ({}) failed after it accepted: {}", pool_.config.name,
                stream.view().address, stream.view().name, failure_name(kind));
}

std::optional<balancer::Pick> UpstreamAttempt::preferred(const balancer::PoolSnapshot& snapshot) {
  for (std::size_t s = 0; s < snapshot.servers.size(); ++s) {
    const balancer::ServerView& view = snapshot.servers[s];
    if (view.id == *prefer_) {
      if (!view.eligible()) return std::nullopt;
      return balancer::Pick{static_cast<balancer::ServerIndex>(s), view.priority};
    }
  }
  return std::nullopt;
}

std::optional<PickedServer> UpstreamAttempt::pick_next() {
  if (tried_count_ >= max_servers_) return std::nullopt;
  // Looked up for each try: a reload may have replaced the pool meanwhile.
  balancer::Balancer* b = worker_.balancer_for(pool_);
  if (!b) {
    end_ = AttemptEnd::pool_gone;
    return std::nullopt;
  }
  balancer::PickContext ctx;
  ctx.client_address = client_ip_.span();
  ctx.hash_key = hash_key_;
  ctx.tried = tried_in(b->snapshot());
  if (pool_.options.slow_start.count() > 0) ctx.now = std::chrono::steady_clock::now();
  std::optional<balancer::Pick> pick;
  if (prefer_ && tried_count_ == 0) pick = preferred(b->snapshot());
  if (!pick) pick = b->pick(ctx);
  if (!pick) return std::nullopt;
  PickedServer picked{b->snapshot_ptr(), pick->server};
  if (tried_count_ > 0) pool_.stats->retries.fetch_add(1, std::memory_order_relaxed);
  tried_ids_[tried_count_++] = picked.view().id;
  return picked;
}

std::optional<PickedServer> UpstreamAttempt::pick() {
  end_ = AttemptEnd::none;
  auto picked = pick_next();
  if (!picked) give_up(end_ == AttemptEnd::pool_gone ? end_ : AttemptEnd::exhausted);
  return picked;
}

void UpstreamAttempt::failed(const balancer::ServerView& view, ConnectFailure kind) {
  count_failure(view, kind);
  spdlog::debug("pool {}: {} ({}) failed the client: {}", pool_.config.name, view.address,
                view.name, failure_name(kind));
}

awaitable<std::optional<UpstreamStream>> UpstreamAttempt::next(AcceptStep* accept,
                                                               ConnectionReuse* reuse) {
  const config::PoolConfig& cfg = pool_.config;
  end_ = AttemptEnd::none;
  for (;;) {
    auto picked = pick_next();
    if (!picked) {
      if (end_ == AttemptEnd::pool_gone) co_return give_up(AttemptEnd::pool_gone);
      break;
    }
    auto snapshot = std::move(picked->snapshot);
    const balancer::ServerView& view = snapshot->servers[picked->server];
    const balancer::ServerIndex server = picked->server;

    if (reuse && reuse->reuse(view)) {
      UpstreamStream stream{tcp::socket(worker_.io()), std::move(snapshot), server,
                            balancer::ActiveConnection(view.stats.get())};
      stream.reused = true;
      co_return stream;
    }

    tcp::socket socket(worker_.io());
    error_code error;
    const auto started = std::chrono::steady_clock::now();
    auto failure = co_await try_server(socket, net::to_endpoint(view.ip, view.port),
                                       cfg.connect_timeout, cfg.proxy_protocol, endpoints_,
                                       cfg.source == config::SourceMode::client, error);
    const auto connected = std::chrono::steady_clock::now();
    if (!failure && worker_.metrics_counting()) {
      view.stats->connect_duration.observe(
          std::chrono::duration_cast<std::chrono::microseconds>(connected - started));
    }
    if (!failure && accept) {
      failure = co_await accept->accept(socket, view);
      if (!failure && worker_.metrics_counting()) {
        view.stats->response_duration.observe(std::chrono::duration_cast<std::chrono::microseconds>(
            std::chrono::steady_clock::now() - connected));
      } else if (failure) {
        error = asio::error::connection_aborted;  // for the log; the kind says what
        error_code ignored;
        socket.close(ignored);
      }
    }
    if (!failure) {
      view.stats->count_success();
      co_return UpstreamStream{std::move(socket), std::move(snapshot), server,
                               balancer::ActiveConnection(view.stats.get())};
    }
    if (net::is_local_fault(error)) {
      // Short of something here, not at the server: not counted against it,
      // nor toward its outlier ejection. Out of descriptors or memory,
      // every other server would fail the same way: give up. Out of source
      // ports or addresses (EADDRNOTAVAIL) is per destination (ports are
      // shared across destinations; an address family may have no source
      // address): the next server may still be reached.
      spdlog::warn("pool {}: cannot open a connection to {}: {}", cfg.name, view.address,
                   error.message());
      if (error.value() != EADDRNOTAVAIL) co_return give_up(AttemptEnd::local_fault);
      continue;
    }
    count_failure(view, *failure);
    spdlog::debug("pool {}: connect {} ({}) failed: {} ({})", cfg.name, view.address, view.name,
                  failure_name(*failure), error.message());
    if (!retry_connects_) break;
  }
  co_return give_up(AttemptEnd::exhausted);
}

}  // namespace sb::runtime
