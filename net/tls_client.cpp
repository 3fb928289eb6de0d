#include "net/tls_client.h"

#include <fmt/format.h>
#include <openssl/asn1.h>
#include <openssl/x509.h>

#include <boost/asio/ip/address.hpp>
#include <ctime>

namespace sb::net {

asio::ssl::context& tls_client_context() {
  static thread_local asio::ssl::context ctx = [] {
    asio::ssl::context c(asio::ssl::context::tls_client);
    c.set_verify_mode(asio::ssl::verify_none);
    return c;
  }();
  return ctx;
}

void set_sni(SSL* ssl, const std::string& host) {
  if (host.empty()) return;
  boost::system::error_code not_an_ip;
  asio::ip::make_address(host, not_an_ip);
  if (not_an_ip) SSL_set_tlsext_host_name(ssl, host.c_str());
}

std::string tls_summary(SSL* ssl) {
  return fmt::format("{} {}", SSL_get_version(ssl), SSL_get_cipher_name(ssl));
}

std::int64_t certificate_expiry_unix(SSL* ssl) {
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (!cert) return 0;
  std::tm tm{};
  if (!ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm)) return 0;
  return static_cast<std::int64_t>(::timegm(&tm));
}

std::string certificate_expiry(SSL* ssl) {
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (!cert) return "no certificate";
  const ASN1_TIME* not_after = X509_get0_notAfter(cert);
  std::tm tm{};
  int days = 0, seconds = 0;
  if (!ASN1_TIME_to_tm(not_after, &tm) || !ASN1_TIME_diff(&days, &seconds, nullptr, not_after)) {
    return "certificate with an unreadable expiry";
  }
  char when[32];
  std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
  if (days < 0 || (days == 0 && seconds < 0)) return fmt::format("certificate EXPIRED {}", when);
  return fmt::format("certificate expires {} (in {} days)", when, days);
}

}  // namespace sb::net
