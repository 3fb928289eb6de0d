#include "proxy/protocols/smtp/smtp_server_link.h"

#include <fmt/format.h>
#include <sys/socket.h>

#include <cerrno>

#include <array>

#include "net/codec/escape.h"
#include "net/socket_deadline.h"
#include "proxy/protocols/smtp/message_record.h"

namespace sb::runtime::smtp {
namespace {

// XCLIENT's ADDR: IPv6 addresses carry the "IPV6:" prefix (Postfix's
// XCLIENT_README).
std::string xclient_addr(const asio::ip::address& a) {
  if (a.is_v6() && a.to_v6().is_v4_mapped()) {
    return asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6()).to_string();
  }
  return a.is_v6() ? "IPV6:" + a.to_string() : a.to_string();
}

// An xtext value (RFC 3461 §4): "+", "=" and bytes outside 33..126 as +HH.
std::string xtext(std::string_view v) {
  std::string out;
  for (const char c : v) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 33 || u > 126 || c == '+' || c == '=') {
      out += fmt::format("+{:02X}", u);
    } else {
      out += c;
    }
  }
  return out;
}

// The attributes an XCLIENT line of the EHLO reply names ("XCLIENT NAME
// ADDR PORT PROTO HELO ..."), upper case.
bool names(const net::SmtpReply& ehlo, std::string_view attribute) {
  for (std::size_t i = 1; i < ehlo.lines.size(); ++i) {
    std::string_view line = ehlo.lines[i];
    if (line.size() < 4) continue;
    line.remove_prefix(4);
    if (line.size() < 7) continue;
    std::string upper(line);
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (!upper.starts_with("XCLIENT")) continue;
    std::string_view rest = std::string_view(upper).substr(7);
    while (!rest.empty()) {
      while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
      const std::size_t sp = rest.find(' ');
      if (rest.substr(0, sp) == attribute) return true;
      if (sp == std::string_view::npos) break;
      rest.remove_prefix(sp);
    }
  }
  return false;
}

}  // namespace

namespace {

// "AUTH PLAIN LOGIN" (or the old "AUTH=PLAIN LOGIN") in an EHLO reply.
std::string auth_line(const net::SmtpReply& ehlo) {
  for (std::size_t i = 1; i < ehlo.lines.size(); ++i) {
    const std::string& line = ehlo.lines[i];
    if (line.size() < 10) continue;
    const std::string_view kw = std::string_view(line).substr(4, 5);
    if ((kw[0] == 'A' || kw[0] == 'a') && (kw[1] == 'U' || kw[1] == 'u') &&
        (kw[2] == 'T' || kw[2] == 't') && (kw[3] == 'H' || kw[3] == 'h') &&
        (kw[4] == ' ' || kw[4] == '=')) {
      return line.substr(9);
    }
  }
  return {};
}

}  // namespace

void SmtpServerLink::broken(balancer::ConnectFailure kind, std::string why) {
  failure_kind_ = kind;
  failure_ = std::move(why);
  error_code ignored;
  stream_.socket.close(ignored);
}

bool SmtpServerLink::idle_usable() {
  if (!stream_.socket.is_open() || !in_.empty()) return false;
  char byte;
  const ssize_t n = ::recv(stream_.socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

void SmtpServerLink::refused(const net::SmtpReply& r) {
  broken(balancer::ConnectFailure::banner,
         fmt::format("answered \"{}\"", net::printable(r.lines.front())));
}

awaitable<bool> SmtpServerLink::write(std::span<const asio::const_buffer> data) {
  if (!stream_.socket.is_open()) co_return false;
  net::SocketDeadline deadline(stream_.socket, timeout_);
  error_code ec;
  std::uint64_t sent = 0;
  for (const asio::const_buffer& b : data) {
    auto [wec, n] = co_await deadline.write(b);
    sent += n;
    if (wec) {
      ec = wec;
      break;
    }
  }
  co_await deadline.disarm();
  stream_.view().stats->bytes_out.fetch_add(sent, std::memory_order_relaxed);
  if (ec) {
    broken(ec == asio::error::timed_out ? balancer::ConnectFailure::timeout
                                        : balancer::ConnectFailure::reset,
           "write: " + ec.message());
    co_return false;
  }
  co_return true;
}

awaitable<std::optional<net::SmtpReply>> SmtpServerLink::read_reply() {
  if (!stream_.socket.is_open()) co_return std::nullopt;
  net::SmtpReplyParser parser;
  net::SocketDeadline deadline(stream_.socket, timeout_);
  std::optional<net::SmtpReply> reply;
  for (;;) {
    std::string_view rest = in_;
    const auto status = parser.feed(rest);
    in_.erase(0, in_.size() - rest.size());
    if (status == net::SmtpReplyParser::Status::done) {
      reply = parser.reply();
      break;
    }
    if (status == net::SmtpReplyParser::Status::invalid) {
      broken(balancer::ConnectFailure::reset, fmt::format("reply: {}", parser.error()));
      break;
    }
    std::array<char, 4096> chunk;
    auto [ec, n] = co_await deadline.read_some(asio::buffer(chunk));
    if (ec) {
      broken(ec == asio::error::timed_out ? balancer::ConnectFailure::timeout
                                          : balancer::ConnectFailure::reset,
             ec == asio::error::timed_out ? "no reply in time"
             : ec == asio::error::eof     ? "connection closed"
                                          : "read: " + ec.message());
      break;
    }
    stream_.view().stats->bytes_in.fetch_add(n, std::memory_order_relaxed);
    in_.append(chunk.data(), n);
  }
  co_await deadline.disarm();
  co_return reply;
}

awaitable<std::optional<net::SmtpReply>> SmtpServerLink::command(std::string_view line) {
  const std::array<asio::const_buffer, 2> out{asio::buffer(line), asio::buffer("\r\n", 2)};
  if (!co_await write(out)) co_return std::nullopt;
  co_return co_await read_reply();
}

awaitable<bool> SmtpServerLink::greet_again() {
  auto greeting = co_await read_reply();
  if (!greeting) co_return false;
  // Postfix greets anew (220); smtp-sink, a test server, says 250.
  if (greeting->code != 220 && greeting->code != 250) {
    broken(balancer::ConnectFailure::banner,
           fmt::format("after XCLIENT: \"{}\"", net::printable(greeting->lines.front())));
    co_return false;
  }
  co_return true;
}

awaitable<bool> SmtpServerLink::introduce(const std::string& hostname,
                                          const XclientFacts* xclient) {
  const std::string ehlo = "EHLO " + hostname;
  auto reply = co_await command(ehlo);
  if (!reply) co_return false;
  if (reply->code != 250) {
    broken(balancer::ConnectFailure::banner,
           fmt::format("EHLO: \"{}\"", net::printable(reply->lines.front())));
    co_return false;
  }
  auth_ = auth_line(*reply);
  if (!xclient || !net::offers(*reply, "XCLIENT")) co_return true;
  // Only the attributes the server names: Postfix refuses the whole command
  // for one it does not know.
  std::string line = "XCLIENT";
  if (names(*reply, "ADDR")) line += " ADDR=" + xclient_addr(xclient->client.address());
  if (names(*reply, "PORT")) line += fmt::format(" PORT={}", xclient->client.port());
  if (names(*reply, "NAME")) line += " NAME=[UNAVAILABLE]";
  if (names(*reply, "HELO") && !xclient->helo.empty()) line += " HELO=" + xtext(xclient->helo);
  if (names(*reply, "PROTO")) line += xclient->esmtp ? " PROTO=ESMTP" : " PROTO=SMTP";
  // XCLIENT's answer is a new greeting (220), or a refusal.
  const std::array<asio::const_buffer, 2> out{asio::buffer(line), asio::buffer("\r\n", 2)};
  if (!co_await write(out)) co_return false;
  if (!co_await greet_again()) co_return false;
  // EHLO sets the server's idea of the client's HELO name and protocol
  // anew: with the client's own name, so that XCLIENT's HELO stands.
  const std::string again = xclient->helo.empty() ? ehlo : "EHLO " + xclient->helo;
  reply = co_await command(again);
  if (!reply) co_return false;
  if (reply->code != 250) {
    broken(balancer::ConnectFailure::banner,
           fmt::format("EHLO after XCLIENT: \"{}\"", net::printable(reply->lines.front())));
    co_return false;
  }
  co_return true;
}

awaitable<std::optional<net::SmtpReply>> SmtpServerLink::message(const MessageRecord& record) {
  // The recorded bytes in pieces, then the terminator: what the client sent,
  // byte for byte.
  std::array<char, 64 * 1024> chunk;
  std::uint64_t offset = 0;
  while (offset < record.size()) {
    const std::size_t n = record.read(offset, chunk);
    if (n == 0) {
      broken(balancer::ConnectFailure::reset, "spool read failed");
      co_return std::nullopt;
    }
    const std::array<asio::const_buffer, 1> out{asio::buffer(chunk.data(), n)};
    if (!co_await write(out)) co_return std::nullopt;
    offset += n;
  }
  const std::array<asio::const_buffer, 1> end{asio::buffer(".\r\n", 3)};
  if (!co_await write(end)) co_return std::nullopt;
  co_return co_await read_reply();
}

awaitable<void> SmtpServerLink::quit() {
  if (!stream_.socket.is_open()) co_return;
  timeout_ = std::chrono::seconds(1);
  co_await command("QUIT");
  error_code ignored;
  stream_.socket.close(ignored);
}

}  // namespace sb::runtime::smtp
