#pragma once
// One connection that is plain TCP or TLS over TCP, behind one type, so that
// the HTTP code (Beast's parsers and serializers, our relays) is written once
// for cleartext and TLS listeners and for plain and TLS servers.
//
// A Stream is an Asio AsyncReadStream and AsyncWriteStream (Beast's
// http::async_read/async_write accept it). The TLS handshake is a separate
// step (handshake_server/handshake_client) so that its deadline and its
// outcome are the caller's to count.

#include <openssl/ssl.h>

#include <boost/asio/ssl.hpp>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "net/asio.h"

namespace sb::net {

class Stream {
 public:
  using executor_type = tcp::socket::executor_type;
  using tls_stream = asio::ssl::stream<tcp::socket>;

  // Plain TCP.
  explicit Stream(tcp::socket socket) : v_(std::move(socket)) {}
  // TLS over `socket` with `context` (a server or client context); the
  // handshake is still to be done. `context` is kept alive with the stream.
  Stream(tcp::socket socket, std::shared_ptr<asio::ssl::context> context)
      : context_(std::move(context)), v_(std::in_place_type<tls_stream>, std::move(socket), *context_) {}

  Stream(Stream&&) = default;
  Stream& operator=(Stream&&) = default;

  executor_type get_executor() { return socket().get_executor(); }
  // The TCP socket underneath: deadlines cancel it, close() closes it.
  tcp::socket& socket() {
    return v_.index() == 0 ? std::get<0>(v_) : std::get<1>(v_).next_layer();
  }
  bool is_tls() const { return v_.index() == 1; }
  // nullptr for plain TCP.
  SSL* ssl() { return is_tls() ? std::get<1>(v_).native_handle() : nullptr; }

  template <class MutableBuffers, class Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    return asio::async_initiate<Token, void(error_code, std::size_t)>(
        [this](auto handler, const MutableBuffers& b) {
          std::visit([&](auto& s) { s.async_read_some(b, std::move(handler)); }, v_);
        },
        token, buffers);
  }
  template <class ConstBuffers, class Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    return asio::async_initiate<Token, void(error_code, std::size_t)>(
        [this](auto handler, const ConstBuffers& b) {
          std::visit([&](auto& s) { s.async_write_some(b, std::move(handler)); }, v_);
        },
        token, buffers);
  }

  // TLS only: the server side of the handshake. `already_read`: client bytes
  // read off the socket before (the first bytes the front door waited for).
  awaitable<error_code> handshake_server(asio::const_buffer already_read);
  // TLS only: the client side; sets SNI to `sni` when it is a host name, and
  // when `verify_host` is not empty checks that the certificate names it.
  awaitable<error_code> handshake_client(const std::string& sni, const std::string& verify_host);
  // TLS: close_notify, best effort, not waited for long. Plain: nothing.
  awaitable<void> shutdown();
  // Closes the socket (no close_notify).
  void close() {
    error_code ignored;
    socket().close(ignored);
  }

 private:
  std::shared_ptr<asio::ssl::context> context_;  // declared first: outlives the stream
  std::variant<tcp::socket, tls_stream> v_;
};

// After a handshake: what was negotiated, for routing (ALPN) and the access
// log. Empty strings for plain TCP or when nothing was negotiated.
std::string_view negotiated_alpn(SSL* ssl);
std::string_view tls_version(SSL* ssl);     // "TLSv1.3"
std::string_view server_name(SSL* ssl);     // the SNI the client sent

}  // namespace sb::net
