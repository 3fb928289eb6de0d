#pragma once
// SMTP passthrough's acceptance step (docs/configuration.md, "smtp"): a server has
// accepted a connection when it greets with 220 within banner-timeout.
// A refusal (421 or any non-220), a close before the greeting, a line over
// 512 bytes, a greeting over the reply caps of net/codec/smtp_reply.h (100
// lines, 16 KiB: what is read of a server stays bounded) or a server that
// trickles bytes past the timeout is a `banner` failure: QUIT is sent where a
// session exists and the client goes to the next server. The greeting that passed is kept, byte for
// byte, for the client, who sees exactly one.

#include <chrono>
#include <string>

#include "proxy/upstream/accept_step.h"

namespace sb::runtime {

class SmtpGreeting final : public AcceptStep {
 public:
  explicit SmtpGreeting(std::chrono::milliseconds timeout) : timeout_(timeout) {}

  awaitable<std::optional<balancer::ConnectFailure>> accept(
      tcp::socket& server, const balancer::ServerView& view) override;

  // The accepted server's greeting as it sent it (with anything it sent
  // after, which the client is owed too).
  const std::string& greeting() const { return greeting_; }
  std::string_view owed_to_client() const override { return greeting_; }
  // Why the last server failed, for the log.
  const std::string& last_failure() const { return last_failure_; }

 private:
  std::chrono::milliseconds timeout_;
  std::string greeting_;
  std::string last_failure_;
};

// What a client gets when no server greeted: the sender keeps the message
// and retries later (RFC 5321 §3.8).
inline constexpr std::string_view kSmtpUnavailable =
    "421 4.3.2 Service not available, closing transmission channel\r\n";

}  // namespace sb::runtime
