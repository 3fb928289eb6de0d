#include "proxy/protocols/http/http_handler.h"

#include <stdexcept>

#include "proxy/listen_error.h"
#include "proxy/protocols/http/h1_session.h"

namespace sb::runtime::http {
namespace {

std::vector<RouteRule> rules_of(const config::HttpConfig& http) {
  std::vector<RouteRule> rules;
  for (const auto& r : http.routes) rules.push_back({r.host, r.path_prefix});
  return rules;
}

std::shared_ptr<net::ServerTls> load_server_tls(const config::ListenerConfig& listener) {
  if (!listener.tls) return nullptr;
  const config::TlsConfig& tls = *listener.tls;
  net::TlsServerSettings s;
  for (const auto& c : tls.certificates) s.certificates.push_back({c.cert, c.key});
  s.min_version = tls.min_version;
  s.alpn = tls.alpn;
  s.client_ca = tls.client_ca;
  switch (tls.verify_client) {
    case config::VerifyClient::none:
      s.verify_client = net::TlsServerSettings::VerifyClient::none;
      break;
    case config::VerifyClient::optional:
      s.verify_client = net::TlsServerSettings::VerifyClient::optional;
      break;
    case config::VerifyClient::required:
      s.verify_client = net::TlsServerSettings::VerifyClient::required;
      break;
  }
  s.session_context = listener.name;
  std::string why;
  auto loaded = net::ServerTls::load(s, why);
  if (!loaded) throw ListenError("listener \"" + listener.name + "\" " + why);
  return loaded;
}

}  // namespace

HttpHandler::HttpHandler(const config::ListenerConfig& listener, const HandlerContext& context)
    : listener_(listener),
      http_(listener.http.value_or(config::HttpConfig{})),
      routes_(rules_of(http_)),
      tls_(load_server_tls(listener)),
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

awaitable<void> HttpHandler::serve(Worker& worker, AdmittedClient client) {
  co_await serve_h1(worker, *this, std::move(client));
}

}  // namespace sb::runtime::http
