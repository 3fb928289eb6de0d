#pragma once
// switchboard's own SMTP session with one server, for the smtp listener in
// inspect mode (docs/configuration.md, "smtp"): the server accepted the
// connection with its 220 (SmtpGreeting, through the attempt), then EHLO and,
// when asked for and offered, XCLIENT with the real client's details
// (followed by a new greeting and EHLO). Commands go out one at a time and
// each reply is read within the listener's idle-timeout; what fails (a
// write, a read, a timeout, a malformed or oversized reply) leaves the link
// broken, and the caller presents the transaction to the next server.

#include <chrono>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "net/codec/smtp_reply.h"
#include "proxy/asio.h"
#include "proxy/upstream/attempt.h"

namespace sb::runtime::smtp {

class MessageRecord;

// XCLIENT's attributes: who the server should see as its client.
struct XclientFacts {
  tcp::endpoint client;
  std::string helo;  // the name the client gave with HELO/EHLO
  bool esmtp = true;
};

class SmtpServerLink {
 public:
  SmtpServerLink(UpstreamStream stream, std::chrono::steady_clock::duration timeout)
      : stream_(std::move(stream)), timeout_(timeout) {}

  // EHLO `hostname`; with `xclient`, XCLIENT when the server offers it and
  // EHLO again. False: the link is broken (failure() says why).
  awaitable<bool> introduce(const std::string& hostname, const XclientFacts* xclient);

  // Writes `line` (CRLF added) and reads the reply; nullopt: broken.
  awaitable<std::optional<net::SmtpReply>> command(std::string_view line);
  // Writes the message and the terminating ".\r\n", reads the final reply.
  awaitable<std::optional<net::SmtpReply>> message(const MessageRecord& record);
  // QUIT, its reply waited for within a second; the link is done after.
  awaitable<void> quit();

  // The server answered with something that is not a yes (a 4xx where the
  // transaction goes on elsewhere): the link is closed as broken.
  void refused(const net::SmtpReply& r);

  // Whether a link left idle can still be used: nothing waiting to be read
  // (a server that timed the session out sent 421 and closed).
  bool idle_usable();

  // The mechanisms the server's last EHLO reply offered with AUTH ("PLAIN
  // LOGIN"); empty when it offered none.
  const std::string& auth_mechanisms() const { return auth_; }

  const UpstreamStream& stream() const { return stream_; }
  const std::string& failure() const { return failure_; }
  // How the server failed, for passive health: a timeout, or a dropped or
  // garbled connection (reset); a 4xx is a refusal (banner).
  balancer::ConnectFailure failure_kind() const { return failure_kind_; }

 private:
  awaitable<bool> write(std::span<const asio::const_buffer> data);
  awaitable<std::optional<net::SmtpReply>> read_reply();
  awaitable<bool> greet_again();
  void broken(balancer::ConnectFailure kind, std::string why);

  UpstreamStream stream_;
  std::chrono::steady_clock::duration timeout_;
  std::string in_;  // received, not yet parsed
  std::string failure_;
  std::string auth_;
  balancer::ConnectFailure failure_kind_ = balancer::ConnectFailure::reset;
};

}  // namespace sb::runtime::smtp
