// The http and https checks: GET `path` with Host, pass on a status within
// expect-status and, when set, a body containing expect-body.
//
// With `reuse-connection` (the default, as in Envoy) a check that passed
// leaves its connection open when the server allows keep-alive, and the next
// check of that server sends its request there: one write and one read
// instead of a TCP (and TLS) handshake and teardown, which were most of a
// check's CPU. A failed check always closes its connection, so the checks of
// a failing server prove each time that it still accepts connections.
#include <sys/socket.h>

#include <boost/beast/core/buffers_range.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "health/probe_session.h"
#include "net/socket_deadline.h"

namespace sb::health::detail {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using boost::system::error_code;

// What a check judges of a body: its first 64 KiB.
constexpr std::size_t kMaxHttpBody = 64 * 1024;
// A kept connection serves checks for at most this long; then a new one
// proves again that the server accepts connections (a server that stopped
// listening but still answers on the connections it has would pass forever).
constexpr std::chrono::seconds kMaxKeptAge{60};

// A Beast body that keeps the first kMaxHttpBody bytes and then ends the read
// with body_limit: the check judges on those (a larger page, or one that
// streams, is not read to its end), and that connection is not kept.
struct CappedBody {
  using value_type = std::string;

  class reader {
   public:
    template <bool isRequest, class Fields>
    reader(http::header<isRequest, Fields>&, value_type& body) : body_(body) {}

    void init(const boost::optional<std::uint64_t>&, error_code& ec) { ec = {}; }

    template <class ConstBufferSequence>
    std::size_t put(const ConstBufferSequence& buffers, error_code& ec) {
      ec = {};
      std::size_t n = 0;
      for (const auto b : beast::buffers_range_ref(buffers)) {
        const std::size_t room = kMaxHttpBody - std::min(kMaxHttpBody, body_.size());
        body_.append(static_cast<const char*>(b.data()), std::min(room, b.size()));
        n += b.size();
      }
      if (body_.size() >= kMaxHttpBody) ec = http::error::body_limit;
      return n;
    }

    void finish(error_code& ec) { ec = {}; }

   private:
    value_type& body_;
  };
};

using Parser = http::response_parser<CappedBody>;

// How one request on a connection went; the verdict itself is in the result.
struct Exchange {
  // A whole response came, and the connection may carry the next request.
  bool keep_alive = false;
  // No byte came back on a kept connection: the server had closed it.
  bool stale = false;
};

bool closed_by_peer(const error_code& ec) {
  return ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe || ec == http::error::end_of_stream ||
         ec == asio::ssl::error::stream_truncated;
}

// A kept connection is usable when the server has neither closed it nor
// sent anything unasked (some send a 408 before closing an idle one) since
// the last check: then there is nothing to read, in the socket or in TLS.
bool idle_and_open(KeptConnection::State& c) {
  if (c.tls && SSL_pending(c.tls->native_handle()) > 0) return false;
  char byte;
  const ssize_t n = ::recv(c.socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// "HTTP/1.1 200" and CRLF, no space after the code: RFC 9112 wants one even
// before an empty reason, and Beast refuses the line, but small servers
// leave it out. Adds it, so that they are judged on their status; false
// when the buffer does not start with such a line.
bool add_missing_status_space(beast::flat_buffer& buffer) {
  const std::string_view data(static_cast<const char*>(buffer.data().data()), buffer.size());
  if (data.size() < 14 || !data.starts_with("HTTP/1.") || data[8] != ' ' || !is_digit(data[9]) ||
      !is_digit(data[10]) || !is_digit(data[11]) || data.substr(12, 2) != "\r\n") {
    return false;
  }
  std::string fixed;
  fixed.reserve(data.size() + 1);
  fixed.append(data.substr(0, 12)).append(" ").append(data.substr(12));
  buffer.consume(buffer.size());
  const auto out = buffer.prepare(fixed.size());
  std::memcpy(out.data(), fixed.data(), fixed.size());
  buffer.commit(fixed.size());
  return true;
}

std::string status_line(const http::response_header<>& m) {
  const std::string_view reason(m.reason().data(), m.reason().size());
  return fmt::format("HTTP/{}.{} {}{}{}", m.version() / 10, m.version() % 10, m.result_int(),
                     reason.empty() ? "" : " ", reason);
}

std::string first_line(const beast::flat_buffer& buffer) {
  const std::string_view data(static_cast<const char*>(buffer.data().data()), buffer.size());
  return printable(data.substr(0, data.find_first_of("\r\n")));
}

template <class Stream>
asio::awaitable<Exchange> get(Stream& stream, const bool& expired, ProbeResult& result,
                              const CheckSpec& spec, bool reused) {
  Exchange x;
  // No `host:` configured: the server's own address, as a browser would send
  // for http://IP/ (documented in docs/configuration.md).
  std::string host = spec.host;
  if (host.empty()) host = uri_host(address_of(spec));
  const std::string request =
      fmt::format("GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: switchboard-health\r\n{}\r\n",
                  spec.path, host, spec.reuse_connection ? "" : "Connection: close\r\n");
  result.note(fmt::format("C: GET {} HTTP/1.1 (Host: {}){}", spec.path, host,
                          reused ? " on the connection kept open" : ""));
  {
    auto [ec, n] = co_await asio::async_write(stream, asio::buffer(request), use_nothrow);
    if (ec) {
      x.stale = reused && !expired && closed_by_peer(ec);
      result.detail = failure(ec, expired, "send");
      co_return x;
    }
  }
  beast::flat_buffer buffer;
  bool space_added = false;
  for (int informational = 0;;) {
    Parser parser;
    parser.header_limit(16 * 1024);
    parser.body_limit(boost::none);  // CappedBody stops at what is judged
    auto [ec, n] = co_await http::async_read(stream, buffer, parser, use_nothrow);
    // Servers often close TLS without close_notify: for a body that runs
    // to the close, that is its end.
    if (ec == asio::ssl::error::stream_truncated && parser.is_header_done() && parser.need_eof()) {
      parser.put_eof(ec);
    }
    bool capped = false;
    if (ec == http::error::body_limit && parser.is_header_done()) {
      ec = {};  // judged on the first kMaxHttpBody bytes
      capped = true;
    }
    if (ec == http::error::bad_status && !space_added && add_missing_status_space(buffer)) {
      space_added = true;
      continue;
    }
    if (ec) {
      if (!parser.got_some()) {
        x.stale = reused && !expired && buffer.size() == 0 && closed_by_peer(ec);
      }
      if (ec.category() == http::make_error_code(http::error::bad_version).category() &&
          ec != http::error::end_of_stream && ec != http::error::partial_message) {
        result.detail = fmt::format("not an HTTP response ({})", ec.message());
        result.note("S: " + first_line(buffer));
      } else if (ec == http::error::end_of_stream) {  // closed before a byte came
        result.detail = failure(asio::error::eof, expired, "HTTP response");
      } else {
        result.detail = failure(ec, expired, "HTTP response");
      }
      co_return x;
    }
    const auto& m = parser.get();
    const int code = static_cast<int>(m.result_int());
    // 100 Continue, 103 Early Hints: the final answer follows.
    if (code < 200 && code != 101 && ++informational < 5) continue;
    const std::string line = printable(status_line(m));
    result.note("S: " + line);
    const std::string_view body = m.body();
    if (!body.empty()) result.note("S: (body) " + printable(body, 120));
    if (code < 200) {  // 101, or 1xx without end: no answer to a GET
      result.detail = line + " (no final answer)";
      co_return x;
    }
    if (code == 408 && reused && !expired) {
      // The server timed the kept connection out as the request came (Go's
      // HTTP client retries this too): not the server's health.
      x.stale = true;
      result.detail = line;
      co_return x;
    }
    x.keep_alive = !capped && parser.keep_alive() && buffer.size() == 0;
    if (code < spec.expect_status_low || code > spec.expect_status_high) {
      result.detail = line;
      co_return x;
    }
    if (!spec.expect_body.empty() && body.find(spec.expect_body) == std::string_view::npos) {
      result.detail = fmt::format("{}, body lacks \"{}\"", line, spec.expect_body);
      co_return x;
    }
    result.ok = true;
    result.detail = line;
    co_return x;
  }
}

asio::awaitable<Exchange> exchange(KeptConnection::State& c, const bool& expired,
                                   ProbeResult& result, const CheckSpec& spec, bool reused) {
  if (c.tls) co_return co_await get(*c.tls, expired, result, spec, reused);
  co_return co_await get(c.socket, expired, result, spec, reused);
}

// A new connection: connect, PROXY header, and for https the TLS handshake.
asio::awaitable<bool> connect(KeptConnection::State& c, const bool& expired, ProbeResult& result,
                              const CheckSpec& spec) {
  if (!co_await open_connection(c.socket, expired, result, spec)) co_return false;
  c.connected_at = std::chrono::steady_clock::now();
  if (spec.type != CheckType::https) co_return true;
  c.tls.emplace(c.socket, net::tls_client_context());
  // SNI: the Host the check asks for, when it is a name.
  net::set_sni(c.tls->native_handle(), spec.host);
  auto [ec] = co_await c.tls->async_handshake(asio::ssl::stream_base::client, use_nothrow);
  if (ec) {
    result.detail = failure(ec, expired, "TLS handshake");
    co_return false;
  }
  result.note("TLS: " + net::tls_summary(c.tls->native_handle()));
  result.certificate_expiry = net::certificate_expiry_unix(c.tls->native_handle());
  co_return true;
}

}  // namespace

asio::awaitable<ProbeResult> http_probe(const CheckSpec& spec, KeptConnection& kept) {
  if (!kept.state) {
    const auto executor = co_await asio::this_coro::executor;
    kept.state = std::make_unique<KeptConnection::State>(executor);
  }
  KeptConnection::State& c = *kept.state;
  ProbeResult result;
  bool reused = c.socket.is_open();
  if (reused &&
      (!idle_and_open(c) || std::chrono::steady_clock::now() - c.connected_at >= kMaxKeptAge)) {
    c.close();  // closed by the server while idle, or old enough: a new connection
    reused = false;
  }
  net::SocketDeadline deadline(c.socket, spec.timeout, net::OnExpiry::cancel_and_shutdown);
  const bool& expired = deadline.expired_flag();
  Exchange x;
  if (reused) {
    x = co_await exchange(c, expired, result, spec, true);
    if (x.stale) {
      // The server closed the kept connection as the request went out (its
      // keep-alive timeout): once more on a new one, as HTTP clients do.
      result.note(fmt::format("({} on the kept connection: trying a new one)", result.detail));
      result.detail.clear();
      c.close();
      reused = false;
    }
  }
  if (!reused) {
    const bool connected = co_await connect(c, expired, result, spec);
    if (connected) x = co_await exchange(c, expired, result, spec, false);
  }
  result.timed_out = expired && !result.ok;
  if (!(spec.reuse_connection && result.ok && x.keep_alive)) c.close();
  co_await deadline.disarm();
  co_return result;
}

}  // namespace sb::health::detail
