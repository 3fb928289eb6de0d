#include "net/stream.h"

#include <openssl/x509v3.h>

#include <chrono>
#include <memory>

#include "net/tls_client.h"

namespace sb::net {

namespace {

// How long shutdown() may take to hand its close_notify to the kernel: a peer
// that stopped reading (its window closed) must not hold the connection.
constexpr std::chrono::seconds kShutdownBound{1};

}  // namespace

awaitable<error_code> Stream::handshake_server(asio::const_buffer already_read) {
  if (!is_tls()) co_return make_error_code(asio::error::operation_not_supported);
  // The overload that takes bytes already read: the front door read the first
  // bytes of the ClientHello off the socket before it knew this was TLS.
  auto [ec, used] = co_await std::get<1>(v_).async_handshake(asio::ssl::stream_base::server,
                                                             already_read, use_nothrow);
  (void)used;
  co_return ec;
}

awaitable<error_code> Stream::handshake_client(const std::string& sni,
                                               const std::string& verify_host) {
  if (!is_tls()) co_return make_error_code(asio::error::operation_not_supported);
  SSL* s = ssl();
  set_sni(s, sni);  // a name only: RFC 6066 forbids IP literals in SNI
  if (!verify_host.empty()) {
    // A wildcard stands for one whole label ("*.example.com"), never part of
    // one ("w*.example.com"). An IP literal is checked against the
    // certificate's IP addresses (OpenSSL 3 parses it as one).
    SSL_set_hostflags(s, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (SSL_set1_host(s, verify_host.c_str()) != 1) {
      co_return make_error_code(asio::error::invalid_argument);
    }
  }
  auto [ec] = co_await std::get<1>(v_).async_handshake(asio::ssl::stream_base::client, use_nothrow);
  co_return ec;
}

awaitable<void> Stream::shutdown() {
  if (!is_tls()) co_return;
  // Send our close_notify without waiting for the peer's: as if it had
  // arrived, so that SSL_shutdown completes once ours is written. Waiting
  // would hold the connection for peers that never answer one (most close
  // the socket instead).
  SSL_set_shutdown(ssl(), SSL_get_shutdown(ssl()) | SSL_RECEIVED_SHUTDOWN);
  // Writing close_notify can still block on a peer that stopped reading: the
  // timer closes the socket, which ends the write.
  // `done`: an expiry already queued when the shutdown ends must not touch
  // this Stream, which may be gone by then.
  auto done = std::make_shared<bool>(false);
  asio::steady_timer bound(socket().get_executor(), kShutdownBound);
  bound.async_wait([this, done](error_code ec) {
    if (!ec && !*done) close();
  });
  auto [ec] = co_await std::get<1>(v_).async_shutdown(use_nothrow);
  (void)ec;  // best effort: the caller closes the connection either way
  *done = true;
  bound.cancel();
}

std::string_view negotiated_alpn(SSL* ssl) {
  if (!ssl) return {};
  const unsigned char* data = nullptr;
  unsigned int len = 0;
  SSL_get0_alpn_selected(ssl, &data, &len);
  if (!data) return {};
  return {reinterpret_cast<const char*>(data), len};
}

std::string_view tls_version(SSL* ssl) {
  if (!ssl) return {};
  const char* v = SSL_get_version(ssl);
  return v ? std::string_view(v) : std::string_view();
}

std::string_view server_name(SSL* ssl) {
  if (!ssl) return {};
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  return name ? std::string_view(name) : std::string_view();
}

}  // namespace sb::net
