// The smtp check: 220 banner, EHLO -> 250, and with `starttls` also STARTTLS
// -> 220, the TLS handshake and EHLO again over TLS; then QUIT. The
// certificate's expiry goes into the result, because an expired relay
// certificate fails mail silently at senders that verify.
#include "health/probe_session.h"

namespace sb::health::detail {
namespace {

template <class Stream>
asio::awaitable<bool> ehlo(LineSession<Stream>& s, const CheckSpec& spec, net::SmtpReply& reply) {
  std::string command = "EHLO " + spec.helo;
  const bool sent = co_await s.send(std::move(command));
  if (!sent) co_return false;
  if (!co_await s.read_reply(reply, 1000, "EHLO reply")) co_return false;
  if (reply.code != 250) {
    s.result.detail = fmt::format("EHLO answered \"{}\"", printable(reply.lines.front()));
    co_return false;
  }
  co_return true;
}

// Polite end; its answer does not change the verdict.
template <class Stream>
asio::awaitable<void> quit(LineSession<Stream>& s) {
  if (co_await s.send("QUIT")) {
    net::SmtpReply bye;
    co_await s.read_reply(bye, 1000, "QUIT reply");
  }
}

asio::awaitable<void> over_tls(LineSession<tcp::socket>& plain, const CheckSpec& spec) {
  ProbeResult& result = plain.result;
  if (!co_await plain.send("STARTTLS")) co_return;
  net::SmtpReply go;
  if (!co_await plain.read_reply(go, 1000, "STARTTLS reply")) co_return;
  if (go.code != 220) {
    result.detail = fmt::format("STARTTLS answered \"{}\"", printable(go.lines.front()));
    co_return;
  }
  // Bytes after the 220 would be read as if they came over TLS (the
  // STARTTLS command injection of CVE-2011-0411): a broken server.
  if (!plain.buffer.empty()) {
    result.detail = "data after the STARTTLS reply, before the TLS handshake";
    co_return;
  }
  asio::ssl::stream<tcp::socket&> tls(plain.stream, net::tls_client_context());
  net::set_sni(tls.native_handle(), spec.host);
  auto [ec] = co_await tls.async_handshake(asio::ssl::stream_base::client, use_nothrow);
  if (ec) {
    result.detail = failure(ec, plain.deadline_expired, "TLS handshake");
    co_return;
  }
  const std::string expiry = net::certificate_expiry(tls.native_handle());
  result.certificate_expiry = net::certificate_expiry_unix(tls.native_handle());
  result.note(fmt::format("TLS: {}, {}", net::tls_summary(tls.native_handle()), expiry));
  LineSession<asio::ssl::stream<tcp::socket&>> secure{tls, plain.deadline_expired, result, {}};
  net::SmtpReply again;
  if (!co_await ehlo(secure, spec, again)) co_return;
  result.ok = true;
  result.detail = fmt::format("{}; STARTTLS {}, {}", printable(again.lines.front()),
                              SSL_get_version(tls.native_handle()), expiry);
  co_await quit(secure);
}

}  // namespace

asio::awaitable<void> smtp_dialogue(tcp::socket& socket, const bool& expired, ProbeResult& result,
                                    const CheckSpec& spec) {
  LineSession<tcp::socket> s{socket, expired, result, {}};
  net::SmtpReply banner;
  if (!co_await s.read_reply(banner, 512, "smtp banner")) co_return;
  if (banner.code != 220) {
    result.detail = fmt::format("smtp banner \"{}\"", printable(banner.lines.front()));
    co_return;
  }
  net::SmtpReply reply;
  if (!co_await ehlo(s, spec, reply)) co_return;
  if (!spec.starttls) {
    result.ok = true;
    result.detail = printable(reply.lines.front());
    co_await quit(s);
    co_return;
  }
  if (!net::offers(reply, "STARTTLS")) {
    result.detail = "STARTTLS not offered in the EHLO reply";
    co_await quit(s);
    co_return;
  }
  co_await over_tls(s, spec);
}

}  // namespace sb::health::detail
