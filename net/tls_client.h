#pragma once
// The client side of TLS to servers: one context per thread, SNI, and the
// words an operator reads about a handshake and a certificate. Used by the
// health checks (https, smtp STARTTLS), mx-test, and TLS to servers.

#include <openssl/ssl.h>

#include <boost/asio/ssl.hpp>
#include <cstdint>
#include <string>

namespace sb::net {

namespace asio = boost::asio;

// Certificates are not verified (docs/configuration.md: checks do not
// verify): a check
// asks "does it answer", and internal servers often carry self-signed ones.
asio::ssl::context& tls_client_context();
// Sets SNI when `host` is a name (not an IP literal).
void set_sni(SSL* ssl, const std::string& host);
// "TLSv1.3 TLS_AES_256_GCM_SHA384".
std::string tls_summary(SSL* ssl);
// The peer certificate's notAfter as "2027-01-31T12:00:00Z (in 70 days)", or
// "no certificate".
std::string certificate_expiry(SSL* ssl);
// The same notAfter in unix seconds; 0 without a certificate or a readable date.
std::int64_t certificate_expiry_unix(SSL* ssl);

}  // namespace sb::net
