#include "proxy/protocols/smtp/smtp_inspect_session.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "net/codec/escape.h"
#include "net/endpoint.h"
#include "net/socket_deadline.h"
#include "net/write_within.h"
#include "proxy/front/listener.h"
#include "proxy/logging.h"
#include "proxy/protocols/smtp/smtp_greeting.h"

namespace sb::runtime::smtp {
namespace {

using net::SmtpVerb;

// Postfix's smtpd_hard_error_limit: a client that keeps sending what we
// refuse is talking to the wrong kind of server, or probing.
constexpr int kMaxErrors = 20;
constexpr int kMaxJunk = 100;
// What a transaction no server holds any more gets for its further RCPTs
// and its DATA: a 4xx, so that the client retries them all later.
constexpr std::string_view kLost = "451 4.3.0 Error: transaction lost, try again later\r\n";
constexpr std::size_t kReadSize = 16 * 1024;

bool positive(int code) {
  return code >= 200 && code < 300;
}

}  // namespace

// The session's current server, offered to the attempt for the next
// transaction: picked again (its server preferred), it is used as it is,
// unless the server has closed it meanwhile (Postfix sends 421 and closes
// an idle session after smtpd_timeout): then the attempt connects to that
// server afresh, and no failure is counted.
class SmtpInspectSession::KeptLink final : public ConnectionReuse {
 public:
  explicit KeptLink(std::optional<SmtpServerLink>& link) : link_(link) {}
  bool reuse(const balancer::ServerView& view) override {
    return link_ && link_->stream().view().id == view.id && link_->idle_usable();
  }

 private:
  std::optional<SmtpServerLink>& link_;
};

SmtpInspectSession::SmtpInspectSession(Worker& worker, AdmittedClient client,
                                       const PoolRuntime& pool, ListenerStats& stats,
                                       const InspectSettings& settings, AuthOffer& auth)
    : worker_(worker),
      client_(std::move(client)),
      stream_(std::move(client_.socket)),
      pool_(pool),
      stats_(stats),
      settings_(settings),
      client_text_(net::to_string(client_.endpoints.client)),
      auth_(auth),
      record_(settings.spool_dir),
      reuse_(std::make_unique<KeptLink>(link_)),
      greeting_(std::make_unique<SmtpGreeting>(settings.banner_timeout)) {}

SmtpInspectSession::~SmtpInspectSession() = default;

// --- the client ------------------------------------------------------------

void SmtpInspectSession::reply(std::string_view lines) {
  out_.append(lines);
}

void SmtpInspectSession::reply_from(const net::SmtpReply& r) {
  for (const std::string& line : r.lines) {
    out_.append(line);
    out_.append("\r\n");
  }
}

awaitable<bool> SmtpInspectSession::flush() {
  if (out_.empty()) co_return true;
  error_code ec;
  if (!stream_.is_tls()) {
    // Almost always one non-blocking send, no timer.
    auto [wec, n] =
        co_await net::write_within(stream_.socket(), asio::buffer(out_), settings_.idle_timeout);
    ec = wec;
  } else {
    net::SocketDeadline deadline(stream_.socket(), settings_.idle_timeout);
    std::size_t written = 0;
    while (!ec && written < out_.size()) {
      if (deadline.expired()) {
        ec = asio::error::timed_out;
        break;
      }
      auto [wec, n] = co_await stream_.async_write_some(asio::buffer(out_) + written, use_nothrow);
      written += n;
      ec = wec;
    }
    co_await deadline.disarm();
  }
  out_.clear();
  co_return !ec;
}

awaitable<bool> SmtpInspectSession::read_more() {
  if (buffer_.empty()) buffer_.resize(kReadSize);
  net::SocketDeadline deadline(stream_.socket(), settings_.idle_timeout);
  auto [ec, n] = co_await stream_.async_read_some(asio::buffer(buffer_), use_nothrow);
  co_await deadline.disarm();
  if (ec) {
    if (deadline.expired() && !stream_.is_tls()) {
      // As Postfix does: say why before closing (in cleartext only: a
      // TLS record would need a write through the stream).
      out_ = fmt::format("421 4.4.2 {} Error: timeout exceeded\r\n", settings_.hostname);
      co_await net::write_within(stream_.socket(), asio::buffer(out_), std::chrono::seconds(1));
      out_.clear();
    }
    co_return false;
  }
  in_.append(buffer_.data(), n);
  co_return true;
}

SmtpInspectSession::Next SmtpInspectSession::junk(std::string_view lines) {
  // Postfix's smtpd_junk_command_limit: past it, each one is an error, so
  // that a client cannot hold the session (and its server) open with NOOPs.
  if (++junk_ <= kMaxJunk) {
    reply(lines);
    return Next::go_on;
  }
  return error(lines);
}

SmtpInspectSession::Next SmtpInspectSession::error(std::string_view lines) {
  reply(lines);
  if (++errors_ < kMaxErrors) return Next::go_on;
  reply(fmt::format("421 4.7.0 {} Error: too many errors\r\n", settings_.hostname));
  return Next::close;
}

awaitable<void> SmtpInspectSession::run() {
  reply(fmt::format("220 {} ESMTP switchboard\r\n", settings_.hostname));
  bool skipping = false;  // the rest of a line too long to read
  for (;;) {
    if (skipping) {
      bool found = false;
      in_.erase(0, net::skip_smtp_line(in_, found));
      if (!found) {
        if (!co_await flush() || !co_await read_more()) break;
        continue;
      }
      skipping = false;
    }
    const net::SmtpLine l = net::next_smtp_line(in_);
    if (l.status == net::SmtpLine::Status::need_more) {
      if (!co_await flush() || !co_await read_more()) break;
      continue;
    }
    if (l.status == net::SmtpLine::Status::too_long) {
      skipping = true;
      if (error("500 5.5.2 Error: line too long\r\n") == Next::close) break;
      continue;
    }
    const std::string line(l.text);
    in_.erase(0, l.consumed);
    const net::SmtpCommand c = net::parse_smtp_command(line);
    if (co_await handle(c, line) == Next::close) break;
  }
  co_await flush();
  if (in_mail_) reset_transaction();  // abandoned: nothing was acknowledged
  if (link_) co_await drop_link();
  stream_.close();
}

awaitable<SmtpInspectSession::Next> SmtpInspectSession::handle(const net::SmtpCommand& c,
                                                               std::string_view line) {
  if (!c.error.empty() && c.verb != SmtpVerb::unknown) {
    co_return error(fmt::format("501 5.5.4 {}\r\n", c.error));
  }
  switch (c.verb) {
    case SmtpVerb::helo:
    case SmtpVerb::ehlo:
      // A new greeting ends any transaction (RFC 5321 §4.1.4).
      if (in_mail_) co_await on_rset();
      // A kept server link told the server the old name (XCLIENT HELO=).
      if (link_ && settings_.xclient && !pinned_) co_await drop_link();
      helo_ = c.argument;
      esmtp_ = c.verb == SmtpVerb::ehlo;
      // What the servers offer with AUTH is learnt from the first server
      // this worker meets; until then the EHLO waits for one.
      if (esmtp_ && !auth_.known && !link_) co_await session_link();
      if (!esmtp_) {
        reply(fmt::format("250 {}\r\n", settings_.hostname));
      } else {
        std::string ehlo =
            fmt::format("250-{}\r\n250-PIPELINING\r\n250-SIZE {}\r\n250-8BITMIME\r\n",
                        settings_.hostname, settings_.max_message_size);
        if (settings_.tls && !stream_.is_tls()) ehlo += "250-STARTTLS\r\n";
        if (!auth_.mechanisms.empty() && !pinned_) {
          ehlo += "250-AUTH " + auth_.mechanisms + "\r\n";
        }
        ehlo += "250 ENHANCEDSTATUSCODES\r\n";
        reply(ehlo);
      }
      co_return Next::go_on;
    case SmtpVerb::mail:
      co_return co_await on_mail(c, line);
    case SmtpVerb::rcpt:
      if (!in_mail_) co_return error("503 5.5.1 Error: need MAIL command\r\n");
      co_return co_await on_rcpt(line);
    case SmtpVerb::data:
      co_return co_await on_data();
    case SmtpVerb::rset:
      co_await on_rset();
      co_return junk("250 2.0.0 Ok\r\n");
    case SmtpVerb::noop:
      co_return junk("250 2.0.0 Ok\r\n");
    case SmtpVerb::quit:
      reply("221 2.0.0 Bye\r\n");
      co_return Next::close;
    case SmtpVerb::vrfy:
      co_return junk(
          "252 2.0.0 Cannot VRFY user, but will accept message and attempt delivery\r\n");
    case SmtpVerb::help:
      co_return junk("214 2.0.0 Commands: HELO EHLO MAIL RCPT DATA RSET NOOP QUIT VRFY\r\n");
    case SmtpVerb::auth:
      co_return co_await on_auth(line);
    case SmtpVerb::starttls:
      co_return co_await on_starttls();
    case SmtpVerb::expn:
    case SmtpVerb::bdat:
      co_return error("502 5.5.1 Error: command not implemented\r\n");
    case SmtpVerb::unknown:
      break;
  }
  co_return error("500 5.5.1 Error: command not recognized\r\n");
}

awaitable<SmtpInspectSession::Next> SmtpInspectSession::on_mail(const net::SmtpCommand& c,
                                                                std::string_view line) {
  if (helo_.empty()) co_return error("503 5.5.1 Error: send HELO/EHLO first\r\n");
  if (in_mail_ && lost_) reset_transaction();  // the client moves on from it
  if (in_mail_) co_return error("503 5.5.1 Error: nested MAIL command\r\n");
  if (c.size && *c.size > settings_.max_message_size) {
    reply("552 5.3.4 Message size exceeds fixed maximum message size\r\n");
    co_return Next::go_on;
  }
  started_ = std::chrono::steady_clock::now();
  attempt_.emplace(worker_, pool_, client_.endpoints);
  // The session's server first: one connection carries the session's
  // transactions while that server takes them.
  if (link_) attempt_->prefer(link_->stream().view().id);
  mail_line_ = line;
  sender_ = c.path;
  const Relayed r = co_await relay(Step::mail, line);
  reply(r.reply);
  if (positive(r.code)) {
    in_mail_ = true;
    co_return Next::go_on;
  }
  finish(r.code, r.code >= 500 ? "rejected" : "tempfail");
  reset_transaction();
  co_return r.close ? Next::close : Next::go_on;
}

awaitable<SmtpInspectSession::Next> SmtpInspectSession::on_rcpt(std::string_view line) {
  if (lost_) {
    reply(kLost);
    co_return Next::go_on;
  }
  if (rcpt_lines_.size() >= settings_.max_recipients) {
    reply("452 4.5.3 Error: too many recipients\r\n");
    co_return Next::go_on;
  }
  const Relayed r = co_await relay(Step::rcpt, line);
  reply(r.reply);
  if (positive(r.code)) {
    rcpt_lines_.emplace_back(line);
  } else if (r.lost) {
    // No server holds the transaction any more (or a replay server refused
    // a recipient already acknowledged): it ends here, and what the client
    // sends for it until RSET or MAIL gets 451 too, never a 5xx that would
    // bounce the recipients it was told about.
    finish(r.code, "tempfail");
    lost_ = true;
    if (r.close) co_return Next::close;
  }
  co_return Next::go_on;
}

awaitable<SmtpInspectSession::Next> SmtpInspectSession::on_data() {
  if (!in_mail_) co_return error("503 5.5.1 Error: need RCPT command\r\n");
  if (lost_) {
    reply(kLost);
    co_return Next::go_on;
  }
  if (rcpt_lines_.empty()) co_return error("554 5.5.1 Error: no valid recipients\r\n");
  reply("354 End data with <CR><LF>.<CR><LF>\r\n");
  if (!co_await flush()) co_return Next::close;

  // The message: what is left of the client's input first, then reads,
  // recorded as they come until the line with the lone dot.
  net::SmtpDataEnd end;
  record_.clear();
  bool over = false;
  bool spool_failed = false;
  const std::uint64_t limit = settings_.max_message_size + 3;  // its ".\r\n" too
  std::string rest;
  std::string_view chunk = in_;
  for (;;) {
    const auto found = end.scan(chunk);
    const std::string_view take = chunk.substr(0, found ? *found : chunk.size());
    if (!over && !spool_failed) {
      if (record_.size() + take.size() > limit) {
        over = true;  // read on to the end; keep nothing more
        record_.clear();
      } else if (!record_.append(take)) {
        spool_failed = true;
        spdlog::error("listener {}: {}: the message from {} is refused with 451",
                      settings_.listener, record_.error(), client_text_);
      }
    }
    if (found) {
      rest.assign(chunk.substr(*found));
      break;
    }
    in_.clear();
    if (!co_await read_more()) co_return Next::close;  // nothing was acknowledged
    chunk = in_;
  }
  in_ = std::move(rest);
  if (!over) record_.drop_last(end.terminator_size());
  over = over || record_.size() > settings_.max_message_size;

  if (over || spool_failed) {
    reply(over ? "552 5.3.4 Message size exceeds fixed maximum message size\r\n"
               : "451 4.3.0 Error: queue file write error\r\n");
    finish(over ? 552 : 451, over ? "rejected" : "tempfail");
    co_await on_rset();
    co_return Next::go_on;
  }
  const Relayed r = co_await relay(Step::data, {});
  reply(r.reply);
  if (positive(r.code)) {
    finish(r.code, tries() > 1 ? "replayed" : "accepted");
    reset_transaction();
  } else if (r.close) {  // 421: the session's authenticated server is gone
    finish(r.code, "tempfail");
    reset_transaction();
    co_return Next::close;
  } else {
    finish(r.code, r.code >= 500 ? "rejected" : "tempfail");
    // A refusal of the DATA command itself (a milter, data restrictions)
    // leaves MAIL and the recipients open on the server: RSET before the
    // link carries another transaction.
    co_await on_rset();
  }
  co_return Next::go_on;
}

awaitable<void> SmtpInspectSession::on_rset() {
  if (in_mail_ && link_) {
    const auto r = co_await link_->command("RSET");
    if (!r || r->code != 250) co_await drop_link();
  }
  reset_transaction();
}

awaitable<SmtpInspectSession::Next> SmtpInspectSession::on_starttls() {
  if (!settings_.tls) co_return error("502 5.5.1 Error: command not implemented\r\n");
  if (stream_.is_tls()) co_return error("554 5.5.1 Error: TLS already active\r\n");
  if (in_mail_) co_return error("503 5.5.1 Error: MAIL transaction in progress\r\n");
  reply("220 2.0.0 Ready to start TLS\r\n");
  if (!co_await flush()) co_return Next::close;
  // What came after STARTTLS in cleartext is not the TLS client's: dropped,
  // or an attacker on the path could inject commands into the protected
  // session (the STARTTLS command injection Postfix fixed in 2011).
  in_.clear();
  stream_ = net::Stream(std::move(stream_.socket()), settings_.tls->context());
  net::SocketDeadline deadline(stream_.socket(), settings_.handshake_timeout);
  const error_code ec = co_await stream_.handshake_server({});
  co_await deadline.disarm();
  if (ec) {
    stats_.tls.failed.fetch_add(1, std::memory_order_relaxed);
    spdlog::debug("listener {}: TLS handshake with {} failed: {}", settings_.listener, client_text_,
                  deadline.expired() ? "handshake-timeout" : ec.message());
    co_return Next::close;
  }
  stats_.tls.ok.fetch_add(1, std::memory_order_relaxed);
  // The session starts over (RFC 3207 §4.2): the client greets again,
  // and authenticates again if it wants to.
  helo_.clear();
  esmtp_ = false;
  if (pinned_) {
    pinned_ = false;
    co_await drop_link();
  }
  co_return Next::go_on;
}

awaitable<std::optional<std::string>> SmtpInspectSession::read_line(std::size_t max) {
  for (;;) {
    const net::SmtpLine l = net::next_smtp_line(in_, max);
    if (l.status == net::SmtpLine::Status::line) {
      std::string line(l.text);
      in_.erase(0, l.consumed);
      co_return line;
    }
    if (l.status == net::SmtpLine::Status::too_long) co_return std::nullopt;
    if (!co_await flush() || !co_await read_more()) co_return std::nullopt;
  }
}

awaitable<bool> SmtpInspectSession::session_link() {
  attempt_.emplace(worker_, pool_, client_.endpoints);
  const bool ok = co_await connect_next();
  attempt_.reset();
  co_return ok;
}

// AUTH (RFC 4954) is the server's: the client's lines go to the session's
// server and its answers come back, as long as it asks for more (334). The
// exchange is not kept (credentials are never stored), so a session that
// authenticated stays on that server and what it fails is not replayed.
awaitable<SmtpInspectSession::Next> SmtpInspectSession::on_auth(std::string_view line) {
  if (auth_.mechanisms.empty()) {
    co_return error("503 5.5.1 Error: authentication not enabled\r\n");
  }
  if (!esmtp_) co_return error("503 5.5.1 Error: send EHLO first\r\n");
  if (pinned_) co_return error("503 5.5.1 Error: already authenticated\r\n");
  if (in_mail_) co_return error("503 5.5.1 Error: MAIL transaction in progress\r\n");
  constexpr std::string_view kTempFail = "454 4.7.0 Temporary authentication failure\r\n";
  if (link_ && !link_->idle_usable()) link_.reset();
  if (!link_ && !co_await session_link()) {
    reply(kTempFail);
    co_return Next::go_on;
  }
  auto r = co_await link_->command(line);
  // SASL lines: Postfix reads up to 12 KiB (line_length_limit does not
  // bound them).
  constexpr std::size_t kMaxSaslLine = 12 * 1024;
  while (r && r->code == 334) {
    reply_from(*r);
    auto answer = co_await read_line(kMaxSaslLine);
    if (!answer) {
      // Gone, or a line too long: the server is told the exchange ended.
      co_await link_->command("*");
      co_return Next::close;
    }
    r = co_await link_->command(*answer);
  }
  if (!r) {
    spdlog::info("listener {}: pool server {} failed the AUTH of {}: {}", settings_.listener,
                 link_->stream().view().name, client_text_, link_->failure());
    link_.reset();
    reply(kTempFail);
    co_return Next::go_on;
  }
  reply_from(*r);
  if (r->code == 235) pinned_ = true;
  co_return Next::go_on;
}

// --- the servers -----------------------------------------------------------

void SmtpInspectSession::link_failed() {
  const balancer::ServerView& view = link_->stream().view();
  spdlog::info("listener {}: pool server {} ({}) failed a transaction of {}: {}",
               settings_.listener, view.name, view.address, client_text_, link_->failure());
  if (attempt_) attempt_->failed(link_->stream(), link_->failure_kind());
  link_.reset();
}

void SmtpInspectSession::link_refused(const net::SmtpReply& r) {
  link_->refused(r);
  link_failed();
}

awaitable<void> SmtpInspectSession::drop_link() {
  co_await link_->quit();
  link_.reset();
}

awaitable<bool> SmtpInspectSession::connect_next() {
  for (;;) {
    auto stream = co_await attempt_->next(greeting_.get(), reuse_.get());
    if (!stream) co_return false;
    if (stream->reused) {
      last_server_ = link_->stream().view().name;
      co_return true;
    }
    if (link_) co_await drop_link();  // the session's last server was not picked
    last_server_ = stream->view().name;
    link_.emplace(std::move(*stream), settings_.idle_timeout);
    const XclientFacts facts{client_.endpoints.client, helo_, esmtp_};
    if (co_await link_->introduce(settings_.hostname, settings_.xclient ? &facts : nullptr)) {
      auth_.known = true;
      auth_.mechanisms = link_->auth_mechanisms();
      co_return true;
    }
    link_failed();
  }
}

awaitable<SmtpInspectSession::Prefix> SmtpInspectSession::replay_prefix() {
  auto r = co_await link_->command(mail_line_);
  if (!r) co_return Prefix::server_failed;
  if (!positive(r->code)) {
    // The client was told its sender was accepted.
    if (r->code >= 500) co_return Prefix::refused;
    link_->refused(*r);
    co_return Prefix::server_failed;
  }
  for (const std::string& rcpt : rcpt_lines_) {
    r = co_await link_->command(rcpt);
    if (!r) co_return Prefix::server_failed;
    // Acknowledged to the client already: any refusal, even a temporary
    // one, is a disagreement between the servers that a further replay
    // would not settle.
    if (!positive(r->code)) co_return Prefix::refused;
  }
  co_return Prefix::ok;
}

awaitable<SmtpInspectSession::Relayed> SmtpInspectSession::relay(Step step, std::string_view line) {
  // The line is the client's and lives in run()'s frame; the message in
  // record_.
  bool pick = step == Step::mail;  // each transaction picks its server
  bool moved = false;              // a 4xx to this RCPT sent it to the next server once
  bool fresh = false;              // a server new to the transaction: replay it there first
  for (;;) {
    if (pinned_) {
      // Authenticated on this server: no other may take over, and the
      // session cannot go on without it.
      pick = false;
      if (!link_ || (step == Step::mail && !link_->idle_usable())) {
        if (link_) link_.reset();
        Relayed out{fmt::format("421 4.3.0 {} Error: connection to the server lost, try again "
                                "later\r\n",
                                settings_.hostname),
                    421};
        out.lost = out.close = true;
        co_return out;
      }
    }
    if (!link_ || pick) {
      pick = false;
      if (!co_await connect_next()) {
        spdlog::warn("listener {}: no server of pool {} took a transaction of {} ({} tried)",
                     settings_.listener, pool_.config.name, client_text_, attempt_->tried());
        Relayed out{"451 4.3.0 Error: no server available, try again later\r\n", 451};
        out.lost = step != Step::mail;
        co_return out;
      }
      fresh = step != Step::mail;
    }
    if (fresh) {
      fresh = false;
      const Prefix p = co_await replay_prefix();
      if (p == Prefix::server_failed) {
        link_failed();
        continue;
      }
      if (p == Prefix::refused) {
        spdlog::info("listener {}: pool server {} refused a replayed transaction of {}",
                     settings_.listener, link_->stream().view().name, client_text_);
        const auto r = co_await link_->command("RSET");
        if (!r || r->code != 250) co_await drop_link();
        Relayed out{"451 4.4.0 Error: the transaction could not be completed, try again later\r\n",
                    451};
        out.lost = true;
        co_return out;
      }
    }
    std::optional<net::SmtpReply> r;
    if (step == Step::data) {
      // The link sat idle while the client sent the message: a server
      // that timed the session out meanwhile is no failure of its own.
      if (!fresh && !link_->idle_usable()) {
        spdlog::info(
            "listener {}: pool server {} closed the session of {} while its message "
            "came in; replaying it",
            settings_.listener, link_->stream().view().name, client_text_);
        link_.reset();
        continue;
      }
      r = co_await link_->command("DATA");
      if (pinned_ && r && r->code >= 400 && r->code < 500) {
        // No other server may take it: the client gets the 4xx.
        Relayed out{{}, r->code};
        for (const std::string& l : r->lines) out.reply.append(l).append("\r\n");
        co_return out;
      }
      if (r && r->code == 354) {
        r = co_await link_->message(record_);
      } else if (r && r->code < 500) {
        // A DATA answered with anything but 354 or a 5xx took no message.
        link_refused(*r);
        continue;
      }
    } else {
      r = co_await link_->command(line);
    }
    if (!r) {
      link_failed();
      continue;
    }
    if (step == Step::rcpt && r->code >= 400 && r->code < 500 && r->code != 421 && !pinned_) {
      // A recipient the server cannot take now (greylisting, a recipient
      // limit): the next server may, once. If it refuses too, the servers
      // agree and the client gets that answer with its transaction intact.
      // Not a failure of the server: it answered.
      if (!moved) {
        moved = true;
        spdlog::debug(
            "listener {}: pool server {} answered \"{}\" to a recipient of {}; "
            "trying the next server",
            settings_.listener, link_->stream().view().name, net::printable(r->lines.front()),
            client_text_);
        // This server keeps the transaction until another has taken it.
        SmtpServerLink kept = std::move(*link_);
        link_.reset();
        if (co_await connect_next()) {
          co_await kept.quit();
          fresh = true;
          continue;
        }
        link_.emplace(std::move(kept));
      }
    } else if (r->code < 200 || (r->code >= 300 && r->code < 500)) {
      // 4xx: this server cannot take it now; the next one may. 1xx and 3xx
      // answer nothing that was asked.
      link_refused(*r);
      continue;
    }
    Relayed out;
    out.code = r->code;
    for (const std::string& l : r->lines) {
      out.reply.append(l);
      out.reply.append("\r\n");
    }
    co_return out;
  }
}

void SmtpInspectSession::finish(int code, std::string_view result) {
  SmtpResult counted = SmtpResult::tempfail;
  if (result == "accepted") counted = SmtpResult::accepted;
  if (result == "replayed") counted = SmtpResult::replayed;
  if (result == "rejected") counted = SmtpResult::rejected;
  stats_.smtp.count(counted);
  if (!access_log_enabled()) return;
  SmtpAccessRecord a;
  a.connection = client_.id;
  a.listener = settings_.listener;
  a.client = client_text_;
  a.sender = sender_;
  a.recipients = rcpt_lines_.size();
  a.size = record_.size();
  a.duration = std::chrono::steady_clock::now() - started_;
  a.pool = pool_.config.name;
  a.server = last_server_;
  a.tries = tries();
  a.result = result;
  a.reply = code;
  write_access_log(a);
}

void SmtpInspectSession::reset_transaction() {
  in_mail_ = false;
  lost_ = false;
  mail_line_.clear();
  sender_.clear();
  rcpt_lines_.clear();
  record_.clear();
  attempt_.reset();
  last_server_.clear();
}

}  // namespace sb::runtime::smtp
