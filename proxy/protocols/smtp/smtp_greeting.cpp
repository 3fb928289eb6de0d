#include "proxy/protocols/smtp/smtp_greeting.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "net/codec/escape.h"
#include "net/codec/smtp_reply.h"
#include "net/socket_deadline.h"

namespace sb::runtime {

awaitable<std::optional<balancer::ConnectFailure>> SmtpGreeting::accept(
    tcp::socket& server, const balancer::ServerView& view) {
  greeting_.clear();
  net::SocketDeadline deadline(server, timeout_);
  // RFC 5321 §4.5.3.1.5: a reply line is at most 512. The parser's caps on
  // lines and bytes per reply bound `received` too: it stops the reading.
  net::SmtpReplyParser parser(512, net::kMaxReplyLines, net::kMaxReplyBytes);
  std::string received;
  std::size_t parsed = 0;
  bool accepted = false;
  bool session = false;  // a complete reply came: QUIT is understood
  for (;;) {
    std::string_view rest = std::string_view(received).substr(parsed);
    const auto status = parser.feed(rest);
    parsed = received.size() - rest.size();
    if (status == net::SmtpReplyParser::Status::done) {
      session = true;
      accepted = parser.reply().code == 220;
      // The server's own bytes: escaped, whatever it sent (0xff, a bare CR).
      last_failure_ =
          accepted ? std::string()
                   : fmt::format("greeting \"{}\"", net::printable(parser.reply().lines.front()));
      break;
    }
    if (status == net::SmtpReplyParser::Status::invalid) {
      last_failure_ = fmt::format("greeting: {}", parser.error());
      break;
    }
    char chunk[1024];
    // Through the deadline: a server trickling its greeting cannot have a
    // read started after the deadline passed.
    auto [ec, n] = co_await deadline.read_some(asio::buffer(chunk));
    if (ec) {
      last_failure_ = deadline.expired() ? fmt::format("no greeting within {}ms", timeout_.count())
                      : ec == asio::error::eof ? "closed before greeting"
                                               : "greeting: " + ec.message();
      break;
    }
    received.append(chunk, n);
  }
  if (accepted) {
    co_await deadline.disarm();
    greeting_ = std::move(received);
    co_return std::nullopt;
  }
  if (session) {
    // Polite end of the refused session, within what is left of the
    // deadline; its answer does not matter.
    static constexpr std::string_view kQuit = "QUIT\r\n";
    co_await deadline.write(asio::buffer(kQuit));
  }
  co_await deadline.disarm();
  spdlog::info("pool server {} ({}) did not accept an smtp session: {}", view.name, view.address,
               last_failure_);
  co_return balancer::ConnectFailure::banner;
}

}  // namespace sb::runtime
