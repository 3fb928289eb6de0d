// The http and https checks: GET `path` with Host, pass on a status within
// expect-status and, when set, a body containing expect-body.
#include <algorithm>

#include "health/http_status.h"
#include "health/probe_session.h"

namespace sb::health::detail {
namespace {

// An HTTP check reads at most this much of the answer.
constexpr std::size_t kMaxHttpResponse = 64 * 1024;

template <class Stream>
asio::awaitable<void> get(Stream& stream, const bool& expired, ProbeResult& result,
                          const CheckSpec& spec) {
  // No `host:` configured: the server's own address, as a browser would send
  // for http://IP/ (documented in docs/configuration.md).
  std::string host = spec.host;
  if (host.empty()) host = uri_host(address_of(spec));
  const std::string request = fmt::format(
      "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: switchboard-health\r\nConnection: close\r\n\r\n",
      spec.path, host);
  result.transcript.push_back(fmt::format("C: GET {} HTTP/1.1 (Host: {})", spec.path, host));
  if (!co_await write_all(stream, request, expired, result, "send")) co_return;
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
      if (response.empty() || expired) {
        result.detail = failure(ec, expired, "HTTP response");
        co_return;
      }
      break;
    }
  }
  const auto status = parse_status_line(response);
  if (!status) {
    result.detail = "not an HTTP response";
    result.transcript.push_back("S: " + printable(response.substr(0, response.find('\n'))));
    co_return;
  }
  result.transcript.push_back("S: " + printable(status->line));
  const std::string_view body = http_body(response);
  if (!body.empty()) result.transcript.push_back("S: (body) " + printable(body.substr(0, 120)));
  if (status->code < spec.expect_status_low || status->code > spec.expect_status_high) {
    result.detail = printable(status->line);
    co_return;
  }
  if (!spec.expect_body.empty() && body.find(spec.expect_body) == std::string_view::npos) {
    result.detail = fmt::format("{}, body lacks \"{}\"", printable(status->line), spec.expect_body);
    co_return;
  }
  result.ok = true;
  result.detail = printable(status->line);
}

}  // namespace

asio::awaitable<void> http_dialogue(tcp::socket& socket, const bool& expired, ProbeResult& result,
                                    const CheckSpec& spec) {
  co_await get(socket, expired, result, spec);
}

asio::awaitable<void> https_dialogue(tcp::socket& socket, const bool& expired, ProbeResult& result,
                                     const CheckSpec& spec) {
  asio::ssl::stream<tcp::socket&> tls(socket, tls_client_context());
  // SNI: the Host the check asks for, when it is a name.
  set_sni(tls.native_handle(), spec.host);
  auto [ec] = co_await tls.async_handshake(asio::ssl::stream_base::client, use_nothrow);
  if (ec) {
    result.detail = failure(ec, expired, "TLS handshake");
    co_return;
  }
  result.transcript.push_back("TLS: " + tls_summary(tls.native_handle()));
  co_await get(tls, expired, result, spec);
}

}  // namespace sb::health::detail
