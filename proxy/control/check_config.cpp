#include "proxy/control/check_config.h"

#include <array>

#include "net/codec/proxy_protocol.h"

namespace sb::runtime {
namespace {

// sip-options checks go over the first transport of the SIP listener that
// uses the pool (UDP, SIP's default, when none does).
health::SipTransport sip_check_transport(const config::Config& cfg, const std::string& pool) {
  for (const auto& l : cfg.listeners) {
    if (l.protocol == config::Protocol::sip && l.pool == pool && l.sip &&
        !l.sip->transports.empty()) {
      return l.sip->transports.front() == config::SipTransport::tcp ? health::SipTransport::tcp
                                                                    : health::SipTransport::udp;
    }
  }
  return health::SipTransport::udp;
}

}  // namespace

std::optional<health::CheckSpec> check_spec(const config::Config& cfg,
                                            const config::PoolConfig& pool,
                                            const balancer::ServerView& server) {
  const config::HealthConfig& h = pool.health;
  health::CheckSpec spec;
  switch (h.check) {
    case config::CheckType::none:
      return std::nullopt;
    case config::CheckType::tcp:
      spec.type = health::CheckType::tcp;
      break;
    case config::CheckType::smtp:
      spec.type = health::CheckType::smtp;
      break;
    case config::CheckType::http:
      spec.type = health::CheckType::http;
      break;
    case config::CheckType::https:
      spec.type = health::CheckType::https;
      break;
    case config::CheckType::sip_options:
      spec.type = health::CheckType::sip_options;
      spec.sip_transport = sip_check_transport(cfg, pool.name);
      break;
  }
  spec.interval = h.interval;
  spec.timeout = h.timeout;
  spec.rise = h.rise;
  spec.fall = h.fall;
  spec.ip = server.ip;
  spec.port = h.port != 0 ? h.port : server.port;
  spec.helo = h.helo;
  spec.starttls = h.starttls;
  spec.path = h.path;
  spec.host = h.host;
  spec.expect_status_low = h.expect_status.low;
  spec.expect_status_high = h.expect_status.high;
  spec.expect_body = h.expect_body;
  spec.reuse_connection = h.reuse_connection;
  // Servers that require PROXY headers must accept the checks too: v2 LOCAL
  // or v1 UNKNOWN, which say "this connection is the balancer's own".
  if (pool.proxy_protocol != config::ProxyProtocol::none) {
    std::array<char, net::kMaxV2> header{};
    net::ProxyAddresses local;
    local.local = true;
    const std::size_t n = pool.proxy_protocol == config::ProxyProtocol::v1
                              ? net::encode_v1(local, header)
                              : net::encode_v2(local, header);
    spec.proxy_header.assign(header.data(), n);
  }
  return spec;
}

}  // namespace sb::runtime
