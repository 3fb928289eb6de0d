#include "proxy/protocols/sip/sip_proxy.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <random>

#include "balancer/hash.h"
#include "net/endpoint.h"
#include "proxy/logging.h"
#include "proxy/protocols/sip/sip_wire.h"
#include "proxy/worker/worker.h"

namespace sb::sip {
namespace {

// RFC 3261 §17.1.1.1 timer values.
constexpr Clock::duration kT1 = std::chrono::milliseconds(500);
constexpr Clock::duration kT2 = std::chrono::seconds(4);
constexpr Clock::duration k64T1 = 64 * kT1;  // Timers B, F, H: 32 s
// A ringing call that nobody answers (Timer C, RFC 3261 §16.6 item 11).
constexpr Clock::duration kTimerC = std::chrono::minutes(3);
// How long a finished transaction stays to absorb retransmissions of its
// request and to pass on retransmitted 2xx responses (Kamailio's wait timer).
constexpr Clock::duration kLinger = std::chrono::seconds(5);
constexpr Clock::time_point kNever = Clock::time_point::max();
// How often calls are checked for expiry (the 32 s after a BYE is kept to
// within this).
constexpr Clock::duration kSweep = std::chrono::seconds(5);
// A timer may fire this much late: re-arming the Asio timer (a timerfd
// syscall) for a deadline only a little earlier than the armed one is not
// worth it at thousands of calls a second; SIP's timers are 500 ms and up.
constexpr Clock::duration kSlack = std::chrono::milliseconds(20);
constexpr std::string_view kCookie = "z9hG4bK";
// The proxy's branches: "z9hG4bKsb<id hex>.<try hex>" for its transactions,
// "z9hG4bKsbx<hash>" for ACKs of 2xx and BYEs it sends without one.
constexpr std::string_view kOwnBranch = "z9hG4bKsb";
constexpr std::string_view kAllow =
    "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, REFER, PRACK, NOTIFY\r\n";

std::uint64_t hex_value(std::string_view s, bool& ok) {
  std::uint64_t v = 0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v, 16);
  ok = ec == std::errc() && p == s.data() + s.size() && !s.empty();
  return v;
}

// The transaction key of a request (RFC 3261 §17.2.3): the top Via's branch
// and sent-by, and the method (an ACK or a CANCEL looks for its INVITE).
// Without the RFC 3261 cookie, the older way: Call-ID, CSeq, From tag, Via.
std::string key_of(const net::SipMessage& m, std::string_view method) {
  std::string key;
  const std::string_view via = m.top_via.substr(0, m.top_via.find(';'));
  if (m.branch.starts_with(kCookie)) {
    key.reserve(m.branch.size() + via.size() + method.size() + 2);
    key.append(m.branch).append("|").append(via).append("|").append(method);
  } else {
    key = fmt::format("{}|{}|{}|{}|{}", m.call_id, m.cseq, m.from_tag, via, method);
  }
  return key;
}

bool own_route(std::string_view uri, const void* ctx) {
  const auto hp = net::sip_uri_host_port(uri);
  return hp && static_cast<const SipIo*>(ctx)->is_own(hp->host, hp->port);
}

udp::endpoint endpoint_of(const balancer::ServerView& v) {
  const tcp::endpoint ep = net::to_endpoint(v.ip, v.port);
  return {ep.address(), ep.port()};
}

std::string peer_text(const Peer& p) {
  if (p.tcp() && p.link) return net::to_string(p.link->remote());
  return net::to_string(tcp::endpoint(p.address.address(), p.address.port()));
}

}  // namespace

struct SipProxy::Branch {
  std::uint32_t number = 0;
  Peer peer;
  std::optional<runtime::PickedServer> server;  // picked from the pool
  std::string forwarded;                        // what was sent: retransmitted, ACKed, CANCELled
  Clock::time_point started{};
  Clock::duration interval{};  // the next retransmission's wait (UDP)
  bool provisional = false;
  bool final = false;
  bool cancel_sent = false;
  bool timer_c = false;  // cancelled for ringing too long
};

struct SipProxy::Txn {
  std::uint64_t id = 0;
  std::string key;
  std::string call_id;
  std::string from_tag;
  bool invite = false;
  bool initial = false;  // an INVITE that starts a call (counted, logged)
  Peer origin;
  net::ClientEndpoints endpoints;  // the origin's address, for the pick
  std::string request;             // as received: presented to each server
  // Requests to the pool: the pool they started with (a reload may replace
  // it meanwhile; the attempt reads it) and the servers tried.
  std::shared_ptr<const runtime::PoolRuntime> pool;
  std::optional<runtime::UpstreamAttempt> attempt;
  std::uint32_t tries = 0;
  bool has_branch = false;
  Branch current;
  std::vector<Branch> abandoned;
  std::string last_response;  // sent to the origin; again on its retransmissions
  int final_status = 0;
  bool cancelled = false;
  bool acked = false;
  Clock::time_point started{};
  Clock::time_point retransmit_at = kNever;  // the request toward the branch (UDP)
  Clock::time_point resend_at = kNever;      // a non-2xx final toward the origin (UDP)
  Clock::duration resend_interval{};
  Clock::time_point timeout_at = kNever;
  Clock::time_point expire_at = kNever;
  std::uint64_t seq = 0;
  std::size_t cost = 0;  // counted in held_bytes_
};

struct SipProxy::Dialog {
  std::string caller_tag;  // the INVITE's From tag
  Peer caller;
  Peer server;
  Clock::time_point expires{};
};

SipProxy::SipProxy(runtime::Worker& worker, std::shared_ptr<const runtime::PoolRuntime> pool,
                   SipSettings settings, std::shared_ptr<runtime::ListenerStats> stats, SipIo& io)
    : worker_(worker),
      pool_(std::move(pool)),
      settings_(std::move(settings)),
      stats_(std::move(stats)),
      io_(io),
      tag_(fmt::format("sb{:x}", balancer::hash_string(settings_.listener, worker.id() + 1))),
      // A secret in every branch of ours: a response must carry it to be
      // taken as the answer to a request this proxy sent (the ids after it
      // count up and are easy to guess).
      branch_prefix_(fmt::format("{}{:08x}{:08x}.", kOwnBranch, std::random_device{}(),
                                 std::random_device{}())),
      timer_(worker.io()) {
  msg_.fields.reserve(32);
  scratch_.fields.reserve(32);
}

SipProxy::~SipProxy() = default;

void SipProxy::stop() {
  timer_.cancel();
  armed_ = Clock::time_point::min();  // never armed again: arm() sees an earlier deadline
}

void SipProxy::reconfigure(std::shared_ptr<const runtime::PoolRuntime> pool, SipSettings settings) {
  pool_ = std::move(pool);
  settings_ = std::move(settings);
}

void SipProxy::drop(std::string_view why) {
  stats_->sip.count(runtime::SipDrop::unmatched);
  spdlog::debug("listener {}: sip message dropped: {}", settings_.listener, why);
}

void SipProxy::too_large() {
  stats_->sip.count(runtime::SipDrop::too_large);
}

void SipProxy::receive(std::string_view bytes, const Peer& from) {
  if (bytes.size() > net::kMaxSipMessage) {
    too_large();
    return;
  }
  net::SipParseError error = net::parse_sip_message(bytes, msg_);
  if (error == net::SipParseError::none && msg_.fields.size() > net::kMaxSipFieldsToForward) {
    error = net::SipParseError::header;  // it could not be passed on
  }
  if (error != net::SipParseError::none) {
    stats_->sip.count(runtime::SipDrop::malformed);
    // A request that says where its answer goes gets 400; a response, an
    // ACK or a message without a Via is dropped (RFC 3261 §16.3, §18.1.2).
    if (msg_.request && !msg_.top_via.empty() && msg_.method != "ACK") {
      reply(msg_, from, 400);
    }
  } else if (msg_.request) {
    on_request(msg_, bytes, from);
  } else {
    on_response(msg_, from);
  }
}

void SipProxy::reply(const net::SipMessage& m, const Peer& to, int status, std::string_view extra) {
  write_response(m, status, reason_phrase(status), tag_, extra, out_);
  io_.send(to, out_);
}

void SipProxy::on_request(const net::SipMessage& m, std::string_view bytes, const Peer& from) {
  if (m.method == "ACK") return on_ack(m, bytes, from);
  if (m.method == "CANCEL") return on_cancel(m, from);
  const std::string key = key_of(m, m.method);
  if (auto it = by_key_.find(key); it != by_key_.end()) {
    // A retransmission: the newest response again, nothing to the server
    // (RFC 3261 §17.2.1: the proxy's own retransmissions reach it).
    if (!it->second->last_response.empty()) io_.send(from, it->second->last_response);
    return;
  }
  if (m.method == "OPTIONS" && m.to_tag.empty()) {
    const auto target = net::sip_uri_host_port(m.uri);
    if (target && io_.is_own(target->host, target->port)) {
      // A gateway's keep-alive to its next hop (docs/configuration.md,
      // "sip"), answered even with Max-Forwards 0 (RFC 3261 §11).
      return reply(m, from, 200, kAllow);
    }
  }
  if (m.max_forwards == 0) return reply(m, from, 483);
  if (!m.to_tag.empty()) return in_dialog(m, bytes, from);
  new_call(m, bytes, from);
}

SipProxy::Txn& SipProxy::open_txn(std::string key, const net::SipMessage& m, std::string_view bytes,
                                  const Peer& from) {
  auto t = std::make_unique<Txn>();
  t->id = next_id_++;
  t->key = std::move(key);
  t->call_id.assign(m.call_id);
  t->from_tag.assign(m.from_tag);
  t->invite = m.method == "INVITE";
  t->origin = from;
  const asio::ip::address address =
      from.tcp() && from.link ? from.link->remote().address() : from.address.address();
  const std::uint16_t port =
      from.tcp() && from.link ? from.link->remote().port() : from.address.port();
  t->endpoints.client = tcp::endpoint(address, port);
  t->request.assign(bytes.substr(0, m.size));
  t->started = Clock::now();
  // What the transaction may hold: the request, a copy per server tried
  // (headers only once a try is over), responses. Counted against the
  // worker's budget until it ends.
  t->cost = 3 * t->request.size() + 1024;
  held_bytes_ += t->cost;
  Txn& ref = *t;
  by_key_[ref.key] = &ref;
  txns_.emplace(ref.id, std::move(t));
  return ref;
}

void SipProxy::new_call(const net::SipMessage& m, std::string_view bytes, const Peer& from) {
  const bool invite = m.method == "INVITE";
  if (full(m.size)) {
    if (invite) stats_->sip.count(runtime::SipCallResult::rejected);
    return reply(m, from, 503, "Retry-After: 5\r\n");
  }
  Txn& t = open_txn(key_of(m, m.method), m, bytes, from);
  t.initial = invite;
  t.pool = pool_;
  t.attempt.emplace(worker_, *t.pool, t.endpoints, balancer::hash_string(m.call_id));
  if (invite) {
    // At once, so that the caller stops retransmitting (RFC 3261 §16.2).
    write_response(m, 100, reason_phrase(100), {}, {}, out_);
    io_.send(from, out_);
    t.last_response = out_;
  }
  present(t);
}

void SipProxy::present(Txn& t) {
  if (t.final_status >= 200) return;
  for (;;) {
    auto picked = t.attempt->pick();
    if (!picked) {
      // Every server failed (or none is up): one answer for the caller.
      own_response(t, 503, "Retry-After: 30\r\n");
      return;
    }
    const balancer::ServerView& view = picked->view();
    const Peer target = io_.server_peer(endpoint_of(view), t.origin.tcp());
    if (target.kind == Peer::Kind::none) {
      t.attempt->failed(view, balancer::ConnectFailure::refused);
      continue;
    }
    forward(t, target, std::move(picked));
    return;
  }
}

std::string SipProxy::branch_for(const Txn& t, std::uint32_t attempt) const {
  return fmt::format("{}{:x}.{:x}", branch_prefix_, t.id, attempt);
}

void SipProxy::forward(Txn& t, const Peer& target, std::optional<runtime::PickedServer> server) {
  if (t.has_branch) abandon_branch(t);
  t.current = Branch{};
  Branch& b = t.current;
  b.number = ++t.tries;
  b.peer = target;
  b.server = std::move(server);
  t.has_branch = true;
  net::parse_sip_message(t.request, scratch_);
  const LocalAddress local = io_.local_for(target);
  const std::string branch = branch_for(t, b.number);
  ForwardOptions options;
  options.via = {local.transport, local.sent_by, branch};
  // Record-routed: the requests that make a dialog (the rest of the call
  // then names this proxy in its Route headers).
  if (settings_.record_route && t.initial) options.record_route = local.record_route;
  options.is_own_route = own_route;
  options.route_ctx = &io_;
  write_forwarded_request(scratch_, options, b.forwarded);
  io_.send(target, b.forwarded);
  const auto now = Clock::now();
  b.started = now;
  if (!target.tcp()) {
    b.interval = kT1;
    t.retransmit_at = now + kT1;
  } else {
    t.retransmit_at = kNever;
  }
  t.timeout_at = now + (t.attempt ? Clock::duration(settings_.invite_timeout) : k64T1);
  schedule(t);
}

void SipProxy::strip_body(std::string& forwarded) {
  // write_forwarded_request ends the header block with Content-Length.
  const auto at = forwarded.rfind("\r\nContent-Length: ");
  if (at == std::string::npos) return;
  forwarded.resize(at + 2);
  forwarded += "Content-Length: 0\r\n\r\n";
  forwarded.shrink_to_fit();
}

void SipProxy::abandon_branch(Txn& t) {
  if (!t.has_branch) return;
  t.has_branch = false;
  t.retransmit_at = kNever;
  // Kept while the transaction lives: a late answer from it is ACKed,
  // CANCELled or hung up instead of reaching the caller.
  if (t.abandoned.size() < runtime::UpstreamAttempt::kMaxServers) {
    strip_body(t.current.forwarded);  // an ACK or CANCEL needs its headers only
    t.abandoned.push_back(std::move(t.current));
  }
  t.current = Branch{};
}

void SipProxy::fail_over(Txn& t, balancer::ConnectFailure kind) {
  if (t.current.server) t.attempt->failed(t.current.server->view(), kind);
  abandon_branch(t);
  present(t);
}

void SipProxy::cancel_branch(Txn& t, Branch& b) {
  if (b.cancel_sent || b.final || !t.invite) return;
  b.cancel_sent = true;
  net::parse_sip_message(b.forwarded, scratch_);
  write_cancel(scratch_, out_);
  io_.send(b.peer, out_);
}

void SipProxy::respond_to_origin(Txn& t, std::string_view bytes, int status) {
  io_.send(t.origin, bytes);
  t.last_response.assign(bytes);
  if (status >= 200) finish(t, status);
}

void SipProxy::own_response(Txn& t, int status, std::string_view extra) {
  if (t.final_status >= 200) return;  // answered already (and its request is gone)
  net::parse_sip_message(t.request, scratch_);
  write_response(scratch_, status, reason_phrase(status), tag_, extra, out_);
  respond_to_origin(t, out_, status);
}

void SipProxy::finish(Txn& t, int status) {
  if (t.final_status >= 200) return;
  t.final_status = status;
  // Not presented again: what stays is what retransmissions need.
  std::string().swap(t.request);
  t.retransmit_at = kNever;
  t.timeout_at = kNever;
  const auto now = Clock::now();
  if (t.invite && status >= 300 && !t.origin.tcp()) {
    // Timer G: the final answer again until the caller's ACK (Timer H).
    t.resend_interval = kT1;
    t.resend_at = now + kT1;
    t.expire_at = now + k64T1;
  } else {
    t.expire_at = now + kLinger;
  }
  schedule(t);
  if (!t.initial) return;
  const bool answered = status < 300;
  const int failovers = t.attempt ? t.attempt->retries() : 0;
  if (!answered) remember_dialog(t, std::chrono::seconds(0));
  runtime::SipCallResult result = runtime::SipCallResult::rejected;
  if (answered) {
    result = failovers > 0 ? runtime::SipCallResult::failed_over : runtime::SipCallResult::answered;
  }
  stats_->sip.count(result);
  if (runtime::access_log_enabled()) {
    const std::string client = peer_text(t.origin);
    const std::string outcome = fmt::format(
        "{} {}", answered ? (failovers > 0 ? "failed-over" : "answered") : "rejected", status);
    runtime::AccessRecord r;
    r.listener = settings_.listener;
    r.client = client;
    r.pool = t.pool ? t.pool->config.name : pool_->config.name;
    const Branch* b = t.has_branch ? &t.current : nullptr;
    if (b && b->server) {
      r.server = b->server->view().name;
      r.upstream = b->server->view().address;
    }
    r.duration = now - t.started;
    r.outcome = outcome;
    r.retries = failovers;
    runtime::write_access_log(r);
  }
}

bool SipProxy::answers_from(const Peer& sent_to, const Peer& from) {
  // Over TCP the answer comes on the connection; over UDP from the
  // server's address (any port: a server may answer from another socket).
  if (sent_to.tcp() || from.tcp()) return sent_to.tcp() && from.tcp() && sent_to.link == from.link;
  return sent_to.address.address() == from.address.address();
}

void SipProxy::on_response(const net::SipMessage& m, const Peer& from) {
  if (!m.branch.starts_with(branch_prefix_)) return drop("a response to a branch not ours");
  const std::string_view rest = m.branch.substr(branch_prefix_.size());
  const auto dot = rest.find('.');
  bool ok_id = false;
  bool ok_try = false;
  const std::uint64_t id = hex_value(rest.substr(0, dot), ok_id);
  const std::uint64_t number =
      dot == std::string_view::npos ? 0 : hex_value(rest.substr(dot + 1), ok_try);
  if (!ok_id || !ok_try) return drop("a response to a request sent without a transaction");
  const auto it = txns_.find(id);
  if (it == txns_.end()) {
    // A 2xx the server repeats until the caller's ACK: it goes end to end
    // even after its transaction (RFC 3261 §16.7), along the call.
    const auto d = dialogs_.find(std::string(m.call_id));
    if (m.status >= 200 && m.status < 300 && m.cseq_method == "INVITE" && d != dialogs_.end() &&
        answers_from(d->second.server, from)) {
      write_forwarded_response(m, io_.local_for(d->second.server).record_route,
                               io_.local_for(d->second.caller).record_route, out_);
      io_.send(d->second.caller, out_);
      return;
    }
    return drop("a response to a finished transaction");
  }
  Txn& t = *it->second;
  if (t.has_branch && t.current.number == number) {
    if (!answers_from(t.current.peer, from)) return drop("a response from another address");
    return on_branch_response(t, m);
  }
  for (Branch& b : t.abandoned) {
    if (b.number != number) continue;
    if (!answers_from(b.peer, from)) return drop("a response from another address");
    return on_abandoned_response(t, b, m);
  }
  drop("a response to an unknown try");
}

void SipProxy::on_branch_response(Txn& t, const net::SipMessage& m) {
  Branch& b = t.current;
  if (m.cseq_method == "CANCEL") return;  // the answer to our CANCEL
  if (m.cseq_method != (t.invite ? std::string_view("INVITE") : m.cseq_method)) return;
  const auto now = Clock::now();
  if (m.status < 200) {
    if (!b.provisional) {
      b.provisional = true;
      if (t.invite) {
        t.retransmit_at = kNever;  // Timer A stops: the server has it
        t.timeout_at = now + kTimerC;
      } else {
        // Timer E goes on at T2 until the final answer, within Timer F.
        if (t.retransmit_at != kNever) t.retransmit_at = now + kT2;
        b.interval = kT2;
        t.timeout_at = b.started + k64T1;
      }
      schedule(t);
    }
    if (t.cancelled) cancel_branch(t, b);
    if (m.status == 100) return;  // hop by hop: ours went out already
    if (!m.to_tag.empty() && t.initial && t.final_status < 200) {
      remember_dialog(t, settings_.dialog_timeout);
    }
    const LocalAddress toward_server = io_.local_for(b.peer);
    const LocalAddress toward_origin = io_.local_for(t.origin);
    write_forwarded_response(m, toward_server.record_route, toward_origin.record_route, out_);
    if (t.final_status < 200) respond_to_origin(t, out_, m.status);
    return;
  }
  if (b.final) {
    // The server sent its final answer again.
    if (t.invite && m.status >= 300) {
      net::parse_sip_message(b.forwarded, scratch_);
      write_ack(scratch_, m, out_);
      io_.send(b.peer, out_);
    } else if (m.status < 300 && t.invite) {
      // A 2xx goes end to end until the caller's ACK (RFC 3261 §13.3.1.4).
      const LocalAddress toward_server = io_.local_for(b.peer);
      const LocalAddress toward_origin = io_.local_for(t.origin);
      write_forwarded_response(m, toward_server.record_route, toward_origin.record_route, out_);
      io_.send(t.origin, out_);
    }
    return;
  }
  b.final = true;
  t.retransmit_at = kNever;
  if (b.server && worker_.metrics_counting()) {
    b.server->view().stats->response_duration.observe(
        std::chrono::duration_cast<std::chrono::microseconds>(now - b.started));
  }
  if (t.invite && m.status >= 300) {
    net::parse_sip_message(b.forwarded, scratch_);
    write_ack(scratch_, m, out_);
    io_.send(b.peer, out_);
  }
  if (m.status >= 300 && t.attempt && !t.cancelled && is_failover_status(m.status)) {
    spdlog::debug("listener {}: call {} failed over: {} answered {}", settings_.listener, t.call_id,
                  b.server ? b.server->view().name : peer_text(b.peer), m.status);
    return fail_over(
        t, m.status == 408 ? balancer::ConnectFailure::timeout : balancer::ConnectFailure::refused);
  }
  if (m.status < 300 && b.server) b.server->view().stats->count_success();
  if (t.initial && m.status < 300) remember_dialog(t, settings_.dialog_timeout);
  const LocalAddress toward_server = io_.local_for(b.peer);
  const LocalAddress toward_origin = io_.local_for(t.origin);
  write_forwarded_response(m, toward_server.record_route, toward_origin.record_route, out_);
  if (t.final_status < 200) {
    respond_to_origin(t, out_, m.status);
  } else if (m.status < 300) {
    io_.send(t.origin, out_);  // a 2xx after our own final answer still goes
  }
}

void SipProxy::on_abandoned_response(Txn& t, Branch& b, const net::SipMessage& m) {
  if (m.cseq_method == "CANCEL" || !t.invite) return;
  if (m.status < 200) {
    // The server woke up after the call went elsewhere: end its ringing.
    cancel_branch(t, b);
    return;
  }
  net::parse_sip_message(b.forwarded, scratch_);
  if (m.status >= 300) {
    write_ack(scratch_, m, out_);
    io_.send(b.peer, out_);
    b.final = true;
    return;
  }
  // A late 2xx: the caller has (or will get) its answer from another server,
  // so this one is acknowledged and hung up at once.
  if (b.final) return;
  b.final = true;
  spdlog::info("listener {}: call {}: late answer from {} hung up", settings_.listener, t.call_id,
               b.server ? b.server->view().name : peer_text(b.peer));
  const LocalAddress local = io_.local_for(b.peer);
  const std::string ack_branch =
      fmt::format("{}x{:x}", branch_prefix_, balancer::hash_string(m.branch, 1));
  write_ack_2xx(scratch_, m, {local.transport, local.sent_by, ack_branch}, out_);
  io_.send(b.peer, out_);
  const std::string bye_branch =
      fmt::format("{}x{:x}", branch_prefix_, balancer::hash_string(m.branch, 2));
  write_bye(scratch_, m, {local.transport, local.sent_by, bye_branch}, out_);
  io_.send(b.peer, out_);
}

void SipProxy::on_cancel(const net::SipMessage& m, const Peer& from) {
  const auto it = by_key_.find(key_of(m, "INVITE"));
  if (it == by_key_.end()) return reply(m, from, 481);
  reply(m, from, 200);  // the CANCEL itself is answered hop by hop
  Txn& t = *it->second;
  if (t.final_status >= 200 || t.cancelled) return;
  t.cancelled = true;
  if (!t.has_branch) return own_response(t, 487);
  // Before a provisional answer the CANCEL waits for one (RFC 3261 §9.1);
  // without any, the branch's timeout answers 487.
  if (t.current.provisional) cancel_branch(t, t.current);
}

void SipProxy::on_ack(const net::SipMessage& m, std::string_view bytes, const Peer& from) {
  (void)bytes;
  if (m.max_forwards == 0) return drop("an ACK with Max-Forwards 0");  // a loop
  if (auto it = by_key_.find(key_of(m, "INVITE")); it != by_key_.end()) {
    Txn& t = *it->second;
    if (t.final_status >= 300) {
      // The ACK of our (or a forwarded) non-2xx answer: absorbed, hop by
      // hop (the server had its own from us).
      if (!t.acked) {
        t.acked = true;
        t.resend_at = kNever;
        t.expire_at = Clock::now() + (t.origin.tcp() ? Clock::duration(0) : kLinger);
        schedule(t);
      }
      return;
    }
  }
  // The ACK of a 2xx: its own transaction, end to end, along the dialog.
  bool toward_caller = false;
  const std::optional<Peer> target = dialog_target(m, from, toward_caller);
  if (!target) return drop("an ACK outside any call");
  const LocalAddress local = io_.local_for(*target);
  const std::string branch =
      fmt::format("{}x{:x}", branch_prefix_, balancer::hash_string(m.branch, 3));
  ForwardOptions options;
  options.via = {local.transport, local.sent_by, branch};
  options.is_own_route = own_route;
  options.route_ctx = &io_;
  write_forwarded_request(m, options, out_);
  io_.send(*target, out_);
}

std::optional<Peer> SipProxy::pool_server_named(const net::SipMessage& m, bool tcp) {
  const auto target = net::sip_uri_host_port(m.uri);
  if (!target) return std::nullopt;
  const auto ip = net::IpAddress::parse(target->host);
  if (!ip) return std::nullopt;
  const std::uint16_t port = target->port ? target->port : 5060;
  balancer::Balancer* b = worker_.balancer_for(*pool_);
  if (!b) return std::nullopt;
  for (const balancer::ServerView& v : b->snapshot().servers) {
    if (v.ip == *ip && v.port == port) {
      Peer p = io_.server_peer(endpoint_of(v), tcp);
      if (p.kind != Peer::Kind::none) return p;
    }
  }
  return std::nullopt;
}

std::optional<Peer> SipProxy::dialog_target(const net::SipMessage& m, const Peer& from,
                                            bool& toward_caller) {
  const auto d = dialogs_.find(std::string(m.call_id));
  if (d == dialogs_.end()) {
    // A call this worker does not know (its caller moved to another port
    // or connection): a request whose Request-URI names a server of the
    // pool (the Contact of its answer) still reaches it.
    toward_caller = false;
    return pool_server_named(m, from.tcp());
  }
  Dialog& call = d->second;
  // Which end sent it, by the From tag (RFC 3261 §12.2): the caller's
  // requests carry the INVITE's From tag, the server's carry its own. A
  // server's request may come from any port or over a new connection.
  toward_caller = m.from_tag != call.caller_tag;
  if (!toward_caller && !from.same(call.caller)) call.caller = from;  // the caller moved
  return toward_caller ? call.caller : call.server;
}

void SipProxy::in_dialog(const net::SipMessage& m, std::string_view bytes, const Peer& from) {
  if (full(m.size)) return reply(m, from, 503, "Retry-After: 5\r\n");
  bool toward_caller = false;
  std::optional<Peer> found = dialog_target(m, from, toward_caller);
  if (!found) return reply(m, from, 481);
  Peer target = *found;
  if (target.tcp() && (!target.link || !target.link->open())) {
    if (toward_caller) return reply(m, from, 408);   // the caller's connection is gone
    target = io_.server_peer(target.address, true);  // a new connection to the server
    if (target.kind == Peer::Kind::none) return reply(m, from, 503, "Retry-After: 5\r\n");
    if (const auto d = dialogs_.find(std::string(m.call_id)); d != dialogs_.end()) {
      d->second.server = target;
    }
  }
  if (m.method == "BYE") expire_dialog(m.call_id, Clock::now() + k64T1);
  Txn& t = open_txn(key_of(m, m.method), m, bytes, from);
  if (t.invite) {
    write_response(m, 100, reason_phrase(100), {}, {}, out_);
    io_.send(from, out_);
    t.last_response = out_;
  }
  forward(t, target, std::nullopt);
}

void SipProxy::remember_dialog(const Txn& t, Clock::duration lifetime) {
  const auto now = Clock::now();
  auto it = dialogs_.find(t.call_id);
  if (it == dialogs_.end()) {
    if (lifetime == Clock::duration(0)) return;
    if (dialogs_.size() >= kMaxDialogs) return;
    it = dialogs_.emplace(t.call_id, Dialog{}).first;
  }
  it->second.caller = t.origin;
  it->second.caller_tag = t.from_tag;
  if (t.has_branch) it->second.server = t.current.peer;
  if (lifetime == Clock::duration(0)) {
    // A failed INVITE: its ACK and stray requests still find it a while.
    expire_dialog(t.call_id, now + k64T1);
    return;
  }
  it->second.expires = now + lifetime;
  want_sweep();
}

void SipProxy::expire_dialog(std::string_view call_id, Clock::time_point when) {
  const auto it = dialogs_.find(std::string(call_id));
  if (it == dialogs_.end() || it->second.expires <= when) return;
  it->second.expires = when;
}

void SipProxy::want_sweep() {
  if (sweep_pending_) return;
  sweep_pending_ = true;
  const auto when = Clock::now() + kSweep;
  timers_.push({when, 0, 0});
  arm(when);
}

void SipProxy::sweep_dialogs(Clock::time_point now) {
  sweep_pending_ = false;
  std::erase_if(dialogs_, [now](const auto& d) { return d.second.expires <= now; });
  if (!dialogs_.empty()) want_sweep();
}

void SipProxy::link_failed(const SipLink* link) {
  std::vector<Txn*> hit;
  for (auto& [id, t] : txns_) {
    if (t->has_branch && !t->current.final && t->current.peer.link.get() == link) {
      hit.push_back(t.get());
    }
  }
  for (Txn* t : hit) {
    if (t->attempt && !t->cancelled) {
      fail_over(*t, balancer::ConnectFailure::reset);
    } else {
      abandon_branch(*t);
      own_response(*t, t->cancelled ? 487 : 503, t->cancelled ? "" : "Retry-After: 5\r\n");
    }
  }
  io_.flush();
}

void SipProxy::origin_closed(const SipLink* link) {
  // A caller whose connection ended cannot take an answer: its calls being
  // set up are cancelled instead of ringing on (RFC 3261 §16.10 as if it
  // had sent CANCEL).
  for (auto& [id, t] : txns_) {
    if (!t->invite || t->final_status >= 200 || t->cancelled || t->origin.link.get() != link) {
      continue;
    }
    t->cancelled = true;
    if (t->has_branch && t->current.provisional) cancel_branch(*t, t->current);
  }
  io_.flush();
}

bool SipProxy::is_failover_status(int status) const {
  return std::any_of(
      settings_.failover_on.begin(), settings_.failover_on.end(),
      [status](const config::StatusRange& r) { return status >= r.low && status <= r.high; });
}

void SipProxy::schedule(Txn& t) {
  const Clock::time_point when =
      std::min({t.retransmit_at, t.resend_at, t.timeout_at, t.expire_at});
  if (when == kNever) return;
  timers_.push({when, t.id, ++t.seq});
  arm(when);
}

void SipProxy::arm(Clock::time_point when) {
  if (armed_ != kNever && when + kSlack >= armed_) return;
  armed_ = when;
  timer_.expires_at(when);
  // A wait that completed just as the proxy went (its handler queued, not
  // cancelled) must not touch it: the token says whether it is still there.
  timer_.async_wait([this, alive = std::weak_ptr<bool>(alive_)](error_code ec) {
    if (ec || alive.expired()) return;  // re-armed, or the proxy is gone
    armed_ = kNever;
    run_timers();
  });
}

void SipProxy::run_timers() {
  const auto now = Clock::now();
  while (!timers_.empty() && timers_.top().when <= now) {
    const TimerEntry e = timers_.top();
    timers_.pop();
    if (e.id == 0) {
      sweep_dialogs(now);
      continue;
    }
    const auto it = txns_.find(e.id);
    if (it == txns_.end() || it->second->seq != e.seq) continue;
    on_timer(*it->second, now);
  }
  io_.flush();
  if (!timers_.empty()) arm(timers_.top().when);
}

void SipProxy::on_timer(Txn& t, Clock::time_point now) {
  if (t.expire_at <= now) return erase(t);
  Branch& b = t.current;
  if (t.retransmit_at <= now && t.has_branch) {
    // Timer A (INVITE, doubling) or E (others, up to T2) toward the server.
    io_.send(b.peer, b.forwarded);
    b.interval = t.invite ? b.interval * 2 : std::min(b.interval * 2, kT2);
    t.retransmit_at = now + b.interval;
  }
  if (t.resend_at <= now) {
    io_.send(t.origin, t.last_response);
    t.resend_interval = std::min(t.resend_interval * 2, kT2);
    t.resend_at = now + t.resend_interval;
  }
  if (t.timeout_at <= now && t.has_branch && !b.final) {
    t.timeout_at = kNever;
    if (b.provisional && t.invite && !b.timer_c) {
      // Ringing for too long: cancelled; its 487 ends the call, or the
      // proxy does in 32 s.
      b.timer_c = true;
      cancel_branch(t, b);
      t.timeout_at = now + k64T1;
    } else if (t.cancelled) {
      abandon_branch(t);
      own_response(t, 487);
    } else if (t.attempt && !b.provisional) {
      spdlog::debug("listener {}: call {}: no answer from {} within invite-timeout",
                    settings_.listener, t.call_id,
                    b.server ? b.server->view().name : peer_text(b.peer));
      fail_over(t, balancer::ConnectFailure::timeout);
    } else {
      abandon_branch(t);
      own_response(t, 408);
    }
  }
  schedule(t);
}

bool SipProxy::full(std::size_t incoming) const {
  return txns_.size() >= kMaxTransactions || held_bytes_ + 3 * incoming > kMaxHeldBytes;
}

void SipProxy::erase(Txn& t) {
  held_bytes_ -= t.cost;
  if (auto it = by_key_.find(t.key); it != by_key_.end() && it->second == &t) by_key_.erase(it);
  txns_.erase(t.id);
}

}  // namespace sb::sip
