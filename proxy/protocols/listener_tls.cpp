#include "proxy/protocols/listener_tls.h"

#include "proxy/listen_error.h"

namespace sb::runtime {

std::shared_ptr<net::ServerTls> load_listener_tls(const config::ListenerConfig& listener) {
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

}  // namespace sb::runtime
