#include "proxy/control/tls_files.h"

#include <fmt/format.h>

#include "net/tls_server.h"

namespace sb::runtime {

std::vector<config::ConfigError> find_tls_problems(const config::Config& cfg,
                                                   const std::string& file) {
  std::vector<config::ConfigError> errors;
  for (const auto& l : cfg.listeners) {
    if (!l.tls) continue;
    net::TlsServerSettings s;
    for (const auto& c : l.tls->certificates) s.certificates.push_back({c.cert, c.key});
    s.min_version = l.tls->min_version;
    s.alpn = l.tls->alpn;
    s.client_ca = l.tls->client_ca;
    s.session_context = l.name;
    std::string why;
    if (!net::ServerTls::load(s, why)) {
      errors.push_back({file, l.tls->mark, fmt::format("listener \"{}\" {}", l.name, why)});
    }
  }
  for (const auto& p : cfg.pools) {
    if (!p.tls) continue;
    std::string why;
    if (!net::make_client_tls(p.tls->verify == config::TlsVerify::required, p.tls->ca, why)) {
      errors.push_back({file, p.tls->mark, fmt::format("pool \"{}\" {}", p.name, why)});
    }
  }
  return errors;
}

}  // namespace sb::runtime
