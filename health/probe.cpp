#include "health/probe.h"

#include <fmt/format.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <cstring>

#include "health/http_status.h"
#include "health/smtp_reply.h"
#include "health/socket_deadline.h"

namespace sb::health {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);
// An HTTP check reads at most this much of the answer.
constexpr std::size_t kMaxHttpResponse = 64 * 1024;

tcp::endpoint endpoint_of(const CheckSpec& spec) {
  if (spec.ipv6) {
    asio::ip::address_v6::bytes_type b;
    std::memcpy(b.data(), spec.ip.data(), b.size());
    return {asio::ip::address_v6(b), spec.port};
  }
  asio::ip::address_v4::bytes_type b;
  std::memcpy(b.data(), spec.ip.data(), b.size());
  return {asio::ip::address_v4(b), spec.port};
}

// Why a socket operation failed, in the words an operator expects.
std::string failure(const boost::system::error_code& ec, const SocketDeadline& deadline,
                    std::string_view during) {
  if (deadline.expired()) return fmt::format("timeout during {}", during);
  if (ec == asio::error::eof) return fmt::format("connection closed during {}", during);
  return fmt::format("{} during {}", ec.message(), during);
}

std::string printable(std::string_view line) {
  std::string out;
  for (char c : line.substr(0, 200)) {
    out.push_back(static_cast<unsigned char>(c) < 0x20 ? '?' : c);
  }
  return out;
}

struct Session {
  tcp::socket& socket;
  SocketDeadline& deadline;
  ProbeResult& result;
  std::string buffer;  // received but not yet parsed

  asio::awaitable<bool> send(std::string_view line) {
    result.transcript.push_back(fmt::format("C: {}", line));
    const std::string wire = std::string(line) + "\r\n";
    auto [ec, n] = co_await asio::async_write(socket, asio::buffer(wire), use_nothrow);
    if (ec) result.detail = failure(ec, deadline, "send");
    co_return !ec;
  }

  // One SMTP reply; false (detail set) on error, timeout or garbage.
  asio::awaitable<bool> read_reply(SmtpReply& reply, std::size_t max_line, std::string_view what) {
    SmtpReplyParser parser(max_line);
    for (;;) {
      std::string_view data = buffer;
      const auto status = parser.feed(data);
      buffer.erase(0, buffer.size() - data.size());
      if (status == SmtpReplyParser::Status::done) break;
      if (status == SmtpReplyParser::Status::invalid) {
        result.detail = fmt::format("{}: {}", what, parser.error());
        co_return false;
      }
      char chunk[1024];
      auto [ec, n] = co_await socket.async_read_some(asio::buffer(chunk), use_nothrow);
      if (ec) {
        result.detail = failure(ec, deadline, what);
        co_return false;
      }
      buffer.append(chunk, n);
    }
    reply = parser.reply();
    for (const auto& l : reply.lines) result.transcript.push_back("S: " + printable(l));
    co_return true;
  }
};

asio::awaitable<void> smtp_dialogue(Session& s, const CheckSpec& spec) {
  SmtpReply banner;
  if (!co_await s.read_reply(banner, 512, "smtp banner")) co_return;
  if (banner.code != 220) {
    s.result.detail = fmt::format("smtp banner \"{}\"", printable(banner.lines.front()));
    co_return;
  }
  if (!co_await s.send("EHLO " + spec.helo)) co_return;
  SmtpReply ehlo;
  if (!co_await s.read_reply(ehlo, 1000, "EHLO reply")) co_return;
  if (ehlo.code != 250) {
    s.result.detail = fmt::format("EHLO answered \"{}\"", printable(ehlo.lines.front()));
    co_return;
  }
  s.result.ok = true;
  s.result.detail = printable(ehlo.lines.front());
  // Polite end; its answer does not change the verdict.
  if (co_await s.send("QUIT")) {
    SmtpReply bye;
    co_await s.read_reply(bye, 1000, "QUIT reply");
  }
}

// Over the plain socket (http) or a TLS stream on it (https).
template <class Stream>
asio::awaitable<void> http_dialogue(Stream& stream, Session& s, const CheckSpec& spec) {
  // No `host:` configured: the server's own address, as a browser would send
  // for http://IP/ (documented in docs/configuration.md).
  std::string host = spec.host;
  if (host.empty()) {
    const auto address = endpoint_of(spec).address();
    host = address.is_v6() ? "[" + address.to_string() + "]" : address.to_string();
  }
  const std::string request = fmt::format(
      "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: switchboard-health\r\nConnection: close\r\n\r\n",
      spec.path, host);
  s.result.transcript.push_back(fmt::format("C: GET {} HTTP/1.1 (Host: {})", spec.path, host));
  auto [wec, wn] = co_await asio::async_write(stream, asio::buffer(request), use_nothrow);
  if (wec) {
    s.result.detail = failure(wec, s.deadline, "send");
    co_return;
  }
  std::string response;
  char chunk[4096];
  for (;;) {
    auto [ec, n] = co_await stream.async_read_some(asio::buffer(chunk), use_nothrow);
    response.append(chunk,
                    std::min(n, kMaxHttpResponse - std::min(kMaxHttpResponse, response.size())));
    // Servers often close TLS without close_notify: that is an end, too.
    if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated ||
        response.size() >= kMaxHttpResponse) {
      break;
    }
    if (ec) {
      if (response.empty() || s.deadline.expired()) {
        s.result.detail = failure(ec, s.deadline, "HTTP response");
        co_return;
      }
      break;
    }
  }
  const auto status = parse_status_line(response);
  if (!status) {
    s.result.detail = "not an HTTP response";
    s.result.transcript.push_back("S: " + printable(response.substr(0, response.find('\n'))));
    co_return;
  }
  s.result.transcript.push_back("S: " + printable(status->line));
  const std::string_view body = http_body(response);
  if (!body.empty()) s.result.transcript.push_back("S: (body) " + printable(body.substr(0, 120)));
  if (status->code < spec.expect_status_low || status->code > spec.expect_status_high) {
    s.result.detail = printable(status->line);
    co_return;
  }
  if (!spec.expect_body.empty() && body.find(spec.expect_body) == std::string_view::npos) {
    s.result.detail =
        fmt::format("{}, body lacks \"{}\"", printable(status->line), spec.expect_body);
    co_return;
  }
  s.result.ok = true;
  s.result.detail = printable(status->line);
}

// Certificates are not verified (SPEC: optional and off by default): a check
// asks "does it answer", and internal servers often carry self-signed ones.
asio::ssl::context& tls_client_context() {
  static thread_local asio::ssl::context ctx = [] {
    asio::ssl::context c(asio::ssl::context::tls_client);
    c.set_verify_mode(asio::ssl::verify_none);
    return c;
  }();
  return ctx;
}

asio::awaitable<void> https_dialogue(tcp::socket& socket, Session& s, const CheckSpec& spec) {
  asio::ssl::stream<tcp::socket&> tls(socket, tls_client_context());
  // SNI: the Host the check asks for, when it is a name.
  if (!spec.host.empty()) {
    boost::system::error_code not_an_ip;
    asio::ip::make_address(spec.host, not_an_ip);
    if (not_an_ip) SSL_set_tlsext_host_name(tls.native_handle(), spec.host.c_str());
  }
  auto [ec] = co_await tls.async_handshake(asio::ssl::stream_base::client, use_nothrow);
  if (ec) {
    s.result.detail = failure(ec, s.deadline, "TLS handshake");
    co_return;
  }
  s.result.transcript.push_back(fmt::format("TLS: {} {}", SSL_get_version(tls.native_handle()),
                                            SSL_get_cipher_name(tls.native_handle())));
  co_await http_dialogue(tls, s, spec);
}

}  // namespace

asio::awaitable<ProbeResult> probe(const CheckSpec& spec) {
  ProbeResult result;
  const auto started = Clock::now();
  tcp::socket socket(co_await asio::this_coro::executor);
  SocketDeadline deadline(socket, spec.timeout);
  Session session{socket, deadline, result, {}};
  const tcp::endpoint target = endpoint_of(spec);

  auto [ec] = co_await socket.async_connect(target, use_nothrow);
  if (ec) {
    result.detail = failure(ec, deadline, "connect");
  } else {
    bool ready = true;
    if (!spec.proxy_header.empty()) {
      auto [wec, n] =
          co_await asio::async_write(socket, asio::buffer(spec.proxy_header), use_nothrow);
      if (wec) {
        result.detail = failure(wec, deadline, "PROXY header");
        ready = false;
      }
    }
    if (ready) {
      switch (spec.type) {
        case CheckType::smtp:
          co_await smtp_dialogue(session, spec);
          break;
        case CheckType::http:
          co_await http_dialogue(socket, session, spec);
          break;
        case CheckType::https:
          co_await https_dialogue(socket, session, spec);
          break;
        default:  // tcp: the connect was the check
          result.ok = true;
          result.detail = "connected";
      }
    }
  }
  result.timed_out = deadline.expired() && !result.ok;
  boost::system::error_code ignored;
  socket.close(ignored);
  co_await deadline.disarm();
  result.latency = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started);
  co_return result;
}

}  // namespace sb::health
