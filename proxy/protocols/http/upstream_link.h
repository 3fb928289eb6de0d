#pragma once
// How an http request gets its server connection (docs/configuration.md,
// pool `tls:` and `keepalive:`): through the pool's attempt
// (proxy/upstream/attempt.h), which first offers each picked server's idle
// keep-alive connection (PooledReuse) and otherwise connects, then, for a
// pool with `tls:`, does the TLS handshake as the acceptance step
// (UpstreamTls): a failed handshake or certificate is a failed connect and
// the next server is tried.

#include <boost/beast/core/flat_buffer.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "balancer/pool_snapshot.h"
#include "balancer/server_stats.h"
#include "net/stream.h"
#include "proxy/asio.h"
#include "proxy/upstream/accept_step.h"
#include "proxy/upstream/attempt.h"
#include "proxy/upstream/keepalive_pool.h"

namespace sb::runtime::http {

struct RoutePool;

// The host a request names, as a name for SNI and certificate checks: no
// port, no brackets, lower case.
std::string sni_of(std::string_view host);

class UpstreamTls final : public AcceptStep {
 public:
  // `sni`: sent, and checked against the certificate when `verify`.
  UpstreamTls(std::shared_ptr<asio::ssl::context> context, std::string sni, bool verify,
              std::chrono::milliseconds timeout)
      : context_(std::move(context)), sni_(std::move(sni)), verify_(verify), timeout_(timeout) {}

  awaitable<std::optional<balancer::ConnectFailure>> accept(
      tcp::socket& server, const balancer::ServerView& view) override;

  // The connection of the last accept() that succeeded.
  std::optional<net::Stream> take();

 private:
  std::shared_ptr<asio::ssl::context> context_;
  std::string sni_;
  bool verify_;
  std::chrono::milliseconds timeout_;
  std::optional<net::Stream> connected_;
};

class PooledReuse final : public ConnectionReuse {
 public:
  // `salt`: what else a connection was made for besides its server (the
  // SNI and verified name of TLS to servers that follow the request's
  // host): a connection is only reused for the same. 0: nothing else.
  // `always_check`: KeepalivePool::take's.
  PooledReuse(KeepalivePool& pool, bool enabled, std::uint64_t salt, bool always_check)
      : pool_(pool), enabled_(enabled), always_check_(always_check), salt_(salt) {}

  bool reuse(const balancer::ServerView& view) override;
  // The keep-alive pool's key of a connection to `server_id` made here.
  std::uint64_t key(std::uint64_t server_id) const {
    return salt_ == 0 ? server_id : server_id ^ (salt_ * 0x9e3779b97f4a7c15ull);
  }
  // The connection the last reuse() took.
  std::optional<net::Stream> take();

 private:
  KeepalivePool& pool_;
  bool enabled_;
  bool always_check_;
  std::uint64_t salt_;
  std::optional<net::Stream> taken_;
};

// A server connection serving a request: the connection, what keeps its
// server's view alive and counted, and the read buffer it uses (the
// session's: it is empty whenever a connection is pooled, and keeping one
// per session keeps its capacity, so a response is read in one read instead
// of from a fresh 512-byte buffer).
struct Upstream {
  net::Stream stream;
  std::shared_ptr<const balancer::PoolSnapshot> snapshot;
  balancer::ServerIndex server = 0;
  balancer::ActiveConnection active;
  const RoutePool* route = nullptr;
  bool reused = false;         // taken from the keep-alive pool
  std::uint64_t pool_key = 0;  // its key in the keep-alive pool
  boost::beast::flat_buffer* buffer = nullptr;

  const balancer::ServerView& view() const { return snapshot->servers[server]; }
};

}  // namespace sb::runtime::http
