#pragma once
// The server side of TLS for listeners that terminate it: one OpenSSL
// context per certificate, the certificate chosen by SNI (exact name, then a
// `*.` wildcard of the name's parent, then the first certificate), ALPN
// chosen from the configured list in its order, a minimum protocol version,
// session resumption (session ids and tickets), and optional client
// certificates (mutual TLS). docs/configuration.md, `tls:`.
//
// Immutable once loaded, shared by every worker and connection of a
// listener; a reload loads a new one (certificates are re-read then).

#include <boost/asio/ssl.hpp>
#include <memory>
#include <string>
#include <vector>

namespace sb::net {

struct TlsServerSettings {
  struct Certificate {
    std::string cert;  // PEM file: the certificate and its chain
    std::string key;   // PEM file: its private key
  };
  std::vector<Certificate> certificates;  // at least one; the first is the default
  std::string min_version = "1.2";        // "1.2" | "1.3"
  std::vector<std::string> alpn;          // offered in this order (server preference)
  std::string client_ca;                  // PEM file; empty: no client certificates asked
  enum class VerifyClient { none, optional, required } verify_client = VerifyClient::none;
  // Context for session ids: the listener's name (sessions never resume
  // across listeners).
  std::string session_context;
};

class ServerTls {
 public:
  // Loads every certificate and key (and the client CA). nullptr and `why`
  // (naming the file and OpenSSL's reason) when one cannot be used: a key
  // that does not match its certificate, an unreadable file, no certificate.
  static std::shared_ptr<ServerTls> load(const TlsServerSettings& settings, std::string& why);

  // The context new connections start with (the first certificate's); the
  // SNI callback switches a connection to the context of its name.
  const std::shared_ptr<boost::asio::ssl::context>& context() const { return contexts_.front(); }

  // The names each certificate answers for (its subjectAltName DNS names,
  // else its CN), lower case, as loaded: for `check` and the logs.
  const std::vector<std::vector<std::string>>& names() const { return names_; }

  struct Impl;  // the SNI and ALPN callbacks reach this through the SSL_CTX

 private:
  ServerTls() = default;
  // Aliasing pointers into impl_, which owns the contexts and what their
  // callbacks read: a connection holding its context keeps all of it alive.
  std::vector<std::shared_ptr<boost::asio::ssl::context>> contexts_;
  std::vector<std::vector<std::string>> names_;
  std::shared_ptr<Impl> impl_;
};

// Client side, for pools with `tls:` (TLS to servers): a context that
// verifies the server's certificate against `ca_file` (empty: the system's
// trust store) when `verify`, and not at all otherwise. nullptr and `why`
// when the CA file cannot be loaded.
std::shared_ptr<boost::asio::ssl::context> make_client_tls(bool verify, const std::string& ca_file,
                                                           std::string& why);

}  // namespace sb::net
