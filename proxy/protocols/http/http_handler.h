#pragma once
// `protocol: http` (docs/configuration.md, "The http listener"): client
// access at L7. Per listener: the routes and their pools, the TLS
// certificates when it terminates TLS, the TLS contexts toward pools with
// `tls:`, and the request counters. Each admitted client is served by an
// HTTP/1.1 session (h1_session.h).

#include <memory>
#include <vector>

#include "net/tls_server.h"
#include "proxy/control/pool_registry.h"
#include "proxy/front/listener_stats.h"
#include "proxy/protocols/handler_factory.h"
#include "proxy/protocols/http/route_table.h"
#include "proxy/protocols/protocol_handler.h"

namespace sb::runtime::http {

// A route's destination.
struct RoutePool {
  std::shared_ptr<const PoolRuntime> pool;
  std::shared_ptr<HttpPoolCounters> counters;
  // The pool's `tls:`: TLS to its servers; nullptr for cleartext.
  std::shared_ptr<boost::asio::ssl::context> upstream_tls;
};

class HttpHandler final : public ProtocolHandler {
 public:
  // Throws std::runtime_error when a certificate or CA cannot be loaded.
  HttpHandler(const config::ListenerConfig& listener, const HandlerContext& context);

  FrontPolicy front_policy() const override;
  awaitable<void> serve(Worker& worker, AdmittedClient client) override;

  const config::HttpConfig& http() const { return http_; }
  const RouteTable& routes() const { return routes_; }
  const RoutePool& route(std::size_t i) const { return route_pools_[i]; }
  // Requests that reached no pool (404).
  HttpPoolCounters& unrouted() const { return *unrouted_; }
  const std::shared_ptr<net::ServerTls>& tls() const { return tls_; }
  const config::ListenerConfig& listener() const { return listener_; }
  ListenerStats& stats() const { return *stats_; }

 private:
  config::ListenerConfig listener_;
  config::HttpConfig http_;
  RouteTable routes_;
  std::vector<RoutePool> route_pools_;
  std::shared_ptr<HttpPoolCounters> unrouted_;
  std::shared_ptr<net::ServerTls> tls_;
  std::shared_ptr<ListenerStats> stats_;
};

}  // namespace sb::runtime::http
