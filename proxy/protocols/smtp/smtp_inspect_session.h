#pragma once
// One client of an smtp listener in inspect mode (docs/configuration.md,
// "smtp"): a state machine over the command codec (net/codec/
// smtp_command.h). The transaction (envelope and message record) is what a
// server attempt consumes and what a replay re-reads:
//
//   MAIL   a server is picked (the session's last one first), greeted,
//          introduced (EHLO, XCLIENT) and given MAIL; its answer is the
//          client's.
//   RCPT   given to the same server; its answer is the client's.
//   DATA   354 from us, the message recorded (memory, then an unlinked spool
//          file), then DATA and the message to the server; the client's final
//          reply is the server's.
//
// A server that fails before its final reply (connect, greeting, a 4xx, a
// timeout, a dropped or garbled connection) is counted against and the
// transaction so far (MAIL, the recipients the client was told about, the
// message) is replayed on the next server; a replay server refusing what the
// first one accepted ends the transaction with 451 4.4.0. 5xx is final.
// Replies are written when the session would otherwise wait for the client
// (RFC 2920: pipelined commands get their replies in order, in batches).

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "net/codec/smtp_command.h"
#include "net/stream.h"
#include "proxy/front/admitted_client.h"
#include "proxy/protocols/smtp/message_record.h"
#include "proxy/protocols/smtp/smtp_inspect_handler.h"
#include "proxy/protocols/smtp/smtp_server_link.h"

namespace sb::runtime {
class SmtpGreeting;
}

namespace sb::runtime::smtp {

class SmtpInspectSession {
 public:
  SmtpInspectSession(Worker& worker, AdmittedClient client, const PoolRuntime& pool,
                     ListenerStats& stats, const InspectSettings& settings, AuthOffer& auth);
  ~SmtpInspectSession();

  awaitable<void> run();

 private:
  enum class Next { go_on, close };
  // What relaying a step to the servers came to.
  struct Relayed {
    std::string reply;  // for the client, CRLF-terminated lines
    int code = 0;
    bool lost = false;   // no server holds the transaction any more
    bool close = false;  // the session ends (its authenticated server is gone)
  };
  enum class Step { mail, rcpt, data };

  // Client I/O.
  awaitable<bool> flush();
  awaitable<bool> read_more();
  void reply(std::string_view lines);
  void reply_from(const net::SmtpReply& r);

  awaitable<Next> handle(const net::SmtpCommand& c, std::string_view line);
  awaitable<Next> on_mail(const net::SmtpCommand& c, std::string_view line);
  awaitable<Next> on_rcpt(std::string_view line);
  awaitable<Next> on_auth(std::string_view line);
  // A server for the session outside a transaction (AUTH; learning what
  // the servers offer); false when none took it.
  awaitable<bool> session_link();
  // The next client line (AUTH's exchange): nullopt when the client went
  // away or sent a line over `max`.
  awaitable<std::optional<std::string>> read_line(std::size_t max);
  awaitable<Next> on_data();
  awaitable<void> on_rset();
  awaitable<Next> on_starttls();
  Next error(std::string_view lines);
  Next junk(std::string_view lines);

  // Servers.
  awaitable<Relayed> relay(Step step, std::string_view line);
  awaitable<bool> connect_next();
  enum class Prefix { ok, server_failed, refused };
  awaitable<Prefix> replay_prefix();
  void link_failed();
  void link_refused(const net::SmtpReply& r);
  awaitable<void> drop_link();

  // The end of a transaction: counters, access log, state reset.
  void finish(int code, std::string_view result);
  void reset_transaction();
  // Servers the transaction was presented to, those that refused the
  // connection or the greeting included: more than one is a replay.
  int tries() const { return attempt_ ? attempt_->tried() : 0; }

  Worker& worker_;
  AdmittedClient client_;
  net::Stream stream_;
  const PoolRuntime& pool_;
  ListenerStats& stats_;
  const InspectSettings& settings_;
  std::string client_text_;

  std::string in_;   // client bytes not yet handled
  std::string out_;  // replies not yet written
  std::vector<char> buffer_;
  int errors_ = 0;
  int junk_ = 0;

  std::string helo_;
  bool esmtp_ = false;
  AuthOffer& auth_;
  // AUTH succeeded on link_'s server: the session stays with it, and what
  // that server fails is not replayed (the credentials are not kept).
  bool pinned_ = false;

  // The transaction.
  bool in_mail_ = false;
  bool lost_ = false;  // no server holds it: RCPT and DATA get 451 until RSET or MAIL
  std::string mail_line_;
  std::string sender_;
  std::vector<std::string> rcpt_lines_;  // the recipients the client was told were accepted
  MessageRecord record_;
  std::chrono::steady_clock::time_point started_;
  std::string last_server_;
  std::optional<UpstreamAttempt> attempt_;

  class KeptLink;
  std::unique_ptr<KeptLink> reuse_;
  std::unique_ptr<SmtpGreeting> greeting_;
  std::optional<SmtpServerLink> link_;
};

}  // namespace sb::runtime::smtp
