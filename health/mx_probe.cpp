#include "health/mx_probe.h"

#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <ctime>

#include "health/probe_session.h"
#include "net/connect.h"
#include "net/socket_deadline.h"

namespace sb::health {
namespace {

using namespace detail;
using Clock = std::chrono::steady_clock;

std::string name_text(const X509_NAME* name) {
  if (!name) return "";
  BIO* bio = BIO_new(BIO_s_mem());
  X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<std::size_t>(n));
  BIO_free(bio);
  return out;
}

TlsCertificateInfo certificate_info(SSL* ssl, const std::string& host) {
  TlsCertificateInfo info;
  info.protocol = SSL_get_version(ssl);
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (!cert) return info;
  info.subject = name_text(X509_get_subject_name(cert));
  info.issuer = name_text(X509_get_issuer_name(cert));
  const ASN1_TIME* not_after = X509_get0_notAfter(cert);
  std::tm tm{};
  int days = 0, seconds = 0;
  if (ASN1_TIME_to_tm(not_after, &tm) && ASN1_TIME_diff(&days, &seconds, nullptr, not_after)) {
    char when[32];
    std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    info.not_after = when;
    info.expired = days < 0 || (days == 0 && seconds < 0);
  }
  info.name_matches = X509_check_host(cert, host.data(), host.size(), 0, nullptr) == 1;
  return info;
}

template <class Stream>
asio::awaitable<bool> ehlo(LineSession<Stream>& s, const std::string& helo, net::SmtpReply& reply) {
  std::string command = "EHLO " + helo;
  if (!co_await s.send(std::move(command))) co_return false;
  if (!co_await s.read_reply(reply, 1000, "EHLO reply")) co_return false;
  if (reply.code != 250) {
    s.result.detail = fmt::format("EHLO answered \"{}\"", printable(reply.lines.front()));
    co_return false;
  }
  co_return true;
}

template <class Stream>
asio::awaitable<void> quit(LineSession<Stream>& s) {
  if (co_await s.send("QUIT")) {
    net::SmtpReply bye;
    co_await s.read_reply(bye, 1000, "QUIT reply");
  }
}

asio::awaitable<void> starttls(LineSession<tcp::socket>& plain, const std::string& host,
                               const std::string& helo, MxServerReport& out) {
  ProbeResult& result = plain.result;
  if (!co_await plain.send("STARTTLS")) co_return;
  net::SmtpReply go;
  if (!co_await plain.read_reply(go, 1000, "STARTTLS reply")) co_return;
  if (go.code != 220) {
    result.detail = fmt::format("STARTTLS answered \"{}\"", printable(go.lines.front()));
    co_return;
  }
  if (!plain.buffer.empty()) {
    result.detail = "data after the STARTTLS reply, before the TLS handshake";
    co_return;
  }
  asio::ssl::stream<tcp::socket&> tls(plain.stream, net::tls_client_context());
  net::set_sni(tls.native_handle(), host);
  auto [ec] = co_await tls.async_handshake(asio::ssl::stream_base::client, use_nothrow);
  if (ec) {
    result.detail = failure(ec, plain.deadline_expired, "TLS handshake");
    co_return;
  }
  out.tls = certificate_info(tls.native_handle(), host);
  LineSession<asio::ssl::stream<tcp::socket&>> secure{tls, plain.deadline_expired, result, {}};
  net::SmtpReply again;
  if (!co_await ehlo(secure, helo, again)) co_return;
  result.ok = true;
  co_await quit(secure);
}

}  // namespace

asio::awaitable<MxServerReport> probe_mx_server(asio::ip::address address, std::uint16_t port,
                                                std::string host, std::string helo,
                                                std::chrono::milliseconds timeout) {
  // Owned here (GCC 12 and coroutine parameters: see docs/architecture.md).
  const std::string mx_host = std::move(host);
  const std::string ehlo_name = std::move(helo);
  MxServerReport out;
  ProbeResult result;
  tcp::socket socket(co_await asio::this_coro::executor);
  net::SocketDeadline deadline(socket, timeout, net::OnExpiry::cancel_and_shutdown);
  const bool& expired = deadline.expired_flag();
  const auto started = Clock::now();
  const auto ec = co_await net::connect_nonblocking(socket, {address, port});
  if (ec) {
    result.detail = failure(ec, expired, "connect");
  } else {
    out.connect_ms = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
    LineSession<tcp::socket> s{socket, expired, result, {}};
    net::SmtpReply banner;
    net::SmtpReply reply;
    if (!co_await s.read_reply(banner, 512, "smtp banner")) {
      // detail set
    } else if (out.banner = printable(banner.lines.front()); banner.code != 220) {
      result.detail = fmt::format("smtp banner \"{}\"", out.banner);
    } else if (co_await ehlo(s, ehlo_name, reply)) {
      out.extensions = net::ehlo_keywords(reply);
      if (net::offers(reply, "STARTTLS")) {
        co_await starttls(s, mx_host, ehlo_name, out);
      } else {
        result.ok = true;
        co_await quit(s);
      }
    }
  }
  net::close_with_reset(socket);
  co_await deadline.disarm();
  out.ok = result.ok;
  if (!out.ok) out.error = result.detail.empty() ? "failed" : result.detail;
  co_return out;
}

}  // namespace sb::health
