#include "proxy/protocols/http/http_handler.h"

#include <spdlog/spdlog.h>

#include <stdexcept>

#include "net/endpoint.h"
#include "net/stream.h"
#include "proxy/listen_error.h"
#include "proxy/protocols/http/exchange.h"
#include "proxy/protocols/http/h1_session.h"
#include "proxy/protocols/http/h2_session.h"
#include "proxy/protocols/http/watchdog.h"
#include "proxy/protocols/listener_tls.h"
#include "proxy/worker/worker.h"

namespace sb::runtime::http {
namespace {

std::vector<RouteRule> rules_of(const config::HttpConfig& http) {
  std::vector<RouteRule> rules;
  for (const auto& r : http.routes) rules.push_back({r.host, r.path_prefix});
  return rules;
}

}  // namespace

HttpHandler::HttpHandler(const config::ListenerConfig& listener, const HandlerContext& context)
    : listener_(listener),
      http_(listener.http.value_or(config::HttpConfig{})),
      routes_(rules_of(http_)),
      tls_(load_listener_tls(listener)),
      stats_(context.stats) {
  unrouted_ = stats_->http.for_pool("-");
  for (const auto& r : http_.routes) {
    RoutePool rp;
    rp.pool = context.pool_named(r.pool);
    rp.counters = stats_->http.for_pool(r.pool);
    if (rp.pool->config.tls) {
      const auto& tls = *rp.pool->config.tls;
      std::string why;
      rp.upstream_tls =
          net::make_client_tls(tls.verify == config::TlsVerify::required, tls.ca, why);
      if (!rp.upstream_tls) {
        throw ListenError("pool \"" + r.pool + "\" " + why);
      }
    }
    route_pools_.push_back(std::move(rp));
  }
}

FrontPolicy HttpHandler::front_policy() const {
  // The client speaks first (a request or a ClientHello): the front door
  // waits for it within client-first-byte-timeout.
  return {FirstByte::wait, false};
}

namespace {

ClientInfo client_info(const AdmittedClient& client, bool tls) {
  ClientInfo info;
  info.connection = client.id;
  info.text = net::to_string(client.endpoints.client);
  const auto ip = net::to_ip(client.endpoints.client.address()).unmapped();
  info.ip = ip.to_string();
  info.v6 = ip.v6;
  info.tls = tls;
  return info;
}

// The TLS handshake within handshake-timeout; counted.
awaitable<bool> handshake(Worker& worker, const HttpHandler& h, AdmittedClient& client,
                          net::Stream& stream, ClientInfo& info) {
  Watchdog dog(stream.socket());
  dog.arm(h.listener().tls->handshake_timeout);
  // A handshake holds no request: a graceful stop does not wait for it.
  worker.add_idle({&stream.socket(), nullptr});
  const error_code ec = co_await stream.handshake_server(asio::buffer(client.early_data));
  worker.remove_idle(&stream.socket());
  dog.disarm();
  co_await dog.stop();
  if (ec) {
    h.stats().tls.failed.fetch_add(1, std::memory_order_relaxed);
    spdlog::debug("listener {}: TLS handshake with {} failed: {}", h.listener().name, info.text,
                  dog.expired() ? "handshake-timeout" : ec.message());
    co_return false;
  }
  h.stats().tls.ok.fetch_add(1, std::memory_order_relaxed);
  info.tls_version = net::tls_version(stream.ssl());
  info.sni = net::server_name(stream.ssl());
  co_return true;
}

}  // namespace

// TLS first when the listener terminates it; then HTTP/2 when ALPN chose
// it or a cleartext client's first bytes are HTTP/2's preface, else
// HTTP/1.1.
awaitable<void> HttpHandler::serve(Worker& worker, AdmittedClient client) {
  ClientInfo info = client_info(client, tls_ != nullptr);
  net::Stream stream = tls_ ? net::Stream(std::move(client.socket), tls_->context())
                            : net::Stream(std::move(client.socket));
  if (tls_) {
    if (!co_await handshake(worker, *this, client, stream, info)) {
      stream.close();
      co_return;
    }
    if (net::negotiated_alpn(stream.ssl()) == "h2") {
      co_await serve_h2(worker, *this, client, stream, info, {});
    } else {
      co_await serve_h1(worker, *this, client, stream, info);
    }
    co_await stream.shutdown();
  } else if (auto preface = co_await serve_h1(worker, *this, client, stream, info)) {
    co_await serve_h2(worker, *this, client, stream, info, *preface);
  }
  stream.close();
}

}  // namespace sb::runtime::http
