#include "proxy/protocols/http/exchange.h"

#include <boost/beast/http/read.hpp>
#include <chrono>
#include <functional>

#include "proxy/protocols/http/affinity.h"
#include "proxy/protocols/http/http_handler.h"
#include "proxy/upstream/attempt.h"
#include "proxy/worker/worker.h"

namespace sb::runtime::http {
namespace {

namespace bhttp = boost::beast::http;
using Clock = std::chrono::steady_clock;

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::uint32_t header_limit(std::uint64_t configured) {
  return static_cast<std::uint32_t>(std::min<std::uint64_t>(configured, 16u * 1024 * 1024));
}

}  // namespace

void Exchange::choose_affinity() {
  const auto& http = h_.http();
  const PoolRuntime& pool = *route_.pool;
  if (http.affinity == config::Affinity::cookie) {
    if (auto token = find_cookie(*req_.fields, http.cookie_name)) {
      if (balancer::Balancer* b = worker_.balancer_for(pool)) {
        preferred_server_ = server_for_cookie(b->snapshot(), pool.config.name, *token);
      }
    }
  } else if (http.affinity == config::Affinity::source_ip) {
    hash_key_ = std::hash<std::string_view>{}(client_.ip);
    if (balancer::Balancer* b = worker_.balancer_for(pool)) {
      preferred_server_ = server_for_source(b->snapshot(), pool.config.name, *hash_key_);
    }
  }
}

// What the server gets as target and Host: an absolute-form target becomes
// origin-form and its authority the Host (RFC 9112 §3.2.2); a request
// without Host (HTTP/1.0) gets the address it reached, since the server is
// spoken to in HTTP/1.1.
void Exchange::rewrite_head() {
  Fields& fields = *req_.fields;
  std::string_view target = req_.target;
  if (!target.empty() && target.front() != '/') {
    if (const auto scheme = target.find("://"); scheme != std::string_view::npos) {
      const std::string_view rest = target.substr(scheme + 3);
      const auto path = rest.find_first_of("/?");
      origin_form_ = path == std::string_view::npos ? "/" : std::string(rest.substr(path));
      if (origin_form_.front() == '?') origin_form_.insert(0, "/");
      target = origin_form_;
      fields.set(bhttp::field::host, req_.host);
    }
  }
  if (fields.count(bhttp::field::host) == 0) {
    fields.set(bhttp::field::host, h_.listener().listen.front().to_string());
  }
  std::string upgrade;
  // h2c is HTTP/2 to this proxy, not a protocol to tunnel to a server.
  const bool wants_upgrade = remove_hop_by_hop(fields, &upgrade) && !iequals(upgrade, "h2c");
  if (h_.http().forwarded_headers) {
    add_forwarded(fields,
                  ForwardedFor{client_.ip, client_.v6, client_.tls ? "https" : "http", req_.host});
  }
  write_request_head(head_, req_.method_string, target, fields, req_.framing,
                     wants_upgrade ? std::string_view(upgrade) : std::string_view());
}

awaitable<Exchanged> Exchange::run(std::optional<ResponseParser>& rparser,
                                   std::optional<Upstream>& up, std::optional<Upstream>* pinned) {
  const auto& http = h_.http();
  const PoolRuntime& pool = *route_.pool;
  auth_request_ = is_connection_auth((*req_.fields)[bhttp::field::authorization]);
  choose_affinity();
  rewrite_head();

  const bool retry_any =
      http.retry_on.connect_failure || http.retry_on.reset || http.retry_on.status_503;
  const bool replayable =
      is_idempotent(req_.method) && retry_any &&
      (req_.framing == Framing::none ||
       (req_.framing == Framing::length && req_.content_length.value_or(0) <= kReplayLimit));
  // An answer before the body was read leaves it unread: on HTTP/1.1 the
  // connection must close then.
  const auto close_after = [&] { return !side_.body_done(); };
  // A body kept for a replay is read before any server is tried.
  std::string replay_body;
  bool sent_continue = false;
  if (replayable && req_.framing != Framing::none) {
    if (req_.expect_continue) {
      if (!co_await side_.send_continue()) co_return Exchanged::client_gone;
      sent_continue = true;
    }
    if (!co_await side_.read_whole_body(replay_body, kReplayLimit)) {
      co_return Exchanged::client_gone;
    }
    log_.bytes_in = replay_body.size();
  }

  UpstreamAttempt attempt(worker_, pool, endpoints_, hash_key_);
  if (preferred_server_) attempt.prefer(*preferred_server_);
  if (!http.retry_on.connect_failure) attempt.no_connect_retries();
  std::optional<UpstreamTls> tls_step;
  std::uint64_t reuse_salt = 0;
  if (route_.upstream_tls) {
    const auto& tls = *pool.config.tls;
    std::string sni = tls.sni.empty() ? sni_of(req_.host) : tls.sni;
    if (tls.sni.empty()) reuse_salt = std::hash<std::string>{}(sni) | 1;
    tls_step.emplace(route_.upstream_tls, std::move(sni), tls.verify == config::TlsVerify::required,
                     pool.config.connect_timeout);
  }
  // A request that could not go to the next server after meeting a
  // connection the server closed (a streamed POST) is sent on a kept one
  // only after a look at whether it is still open.
  const bool replay_on_reset = replayable && http.retry_on.reset;
  PooledReuse reuse(worker_.keepalive(), pool.config.keepalive.max_idle > 0, reuse_salt,
                    !replay_on_reset);

  bool answered_503 = false;  // the last server asked answered 503
  for (;;) {
    const bool use_pinned = pinned && *pinned && (*pinned)->route == &route_;
    if (use_pinned) {
      up = std::move(*pinned);
      pinned->reset();
    } else {
      if (pinned && *pinned) {  // a request for another pool: the pin is over
        (*pinned)->stream.close();
        pinned->reset();
      }
      auto got = co_await attempt.next(tls_step ? &*tls_step : nullptr, &reuse);
      log_.retries = attempt.retries();
      if (!got) {
        // Every server asked said 503 (retry-on: 503): the service is
        // unavailable, not broken.
        const bool none_eligible =
            attempt.tried() == 0 || attempt.end() != AttemptEnd::exhausted || answered_503;
        const bool close = close_after();
        if (none_eligible) {
          co_await side_.answer({503, "Service Unavailable",
                                 "switchboard: no server of this service is available",
                                 answered_503                               ? "servers-unavailable"
                                 : attempt.end() == AttemptEnd::local_fault ? "local-fault"
                                                                            : "no-server",
                                 close, route_.counters.get(), 5});
        } else {
          co_await side_.answer({502, "Bad Gateway",
                                 "switchboard: no server of this service answered",
                                 "servers-failed", close, route_.counters.get()});
        }
        co_return close ? Exchanged::answered_close : Exchanged::answered;
      }
      std::optional<net::Stream> stream;
      if (got->reused) {
        stream = reuse.take();
      } else if (tls_step) {
        stream = tls_step->take();
      } else {
        stream.emplace(std::move(got->socket));
      }
      const std::uint64_t pool_key = reuse.key(got->snapshot->servers[got->server].id);
      ubuf_.clear();
      if (ubuf_.capacity() == 0) ubuf_.reserve(16 * 1024);  // a response in one read
      up.emplace(Upstream{std::move(*stream), std::move(got->snapshot), got->server,
                          std::move(got->active), &route_, got->reused, pool_key, &ubuf_});
    }
    up_dog_.watch(up->stream.socket());
    server_name_ = up->view().name;  // outlives the connection, for the access log
    log_.server = server_name_;

    // The request: head, then the body kept for a replay or streamed.
    bool sent = co_await to_server(*up, asio::buffer(head_));
    if (sent && !replay_body.empty()) sent = co_await to_server(*up, asio::buffer(replay_body));
    if (sent && req_.framing != Framing::none && replay_body.empty() && !side_.body_done()) {
      if (req_.expect_continue && !sent_continue) {
        if (!co_await side_.send_continue()) {
          up->stream.close();
          co_return Exchanged::client_gone;
        }
        sent_continue = true;
      }
      const Relayed r = co_await side_.send_body(*up, up_dog_);
      if (r == Relayed::from_failed) {  // the client left mid-body
        up->stream.close();
        co_return Exchanged::client_gone;
      }
      // A server that stopped taking the body may have answered already
      // (401, 413): its answer is read and passed on, and the client
      // connection, its body unread, closes after it. One that stopped
      // reading for idle-timeout is not waited for any longer.
      sent = r == Relayed::ok || !up_dog_.expired();
    }

    // The response's head.
    bool timed_out = false;
    if (sent) {
      rparser.emplace();
      if (!co_await read_response_head(*up, rparser, timed_out)) rparser.reset();
    }
    if (rparser) {
      const unsigned status = rparser->get().result_int();
      const bool retry_503 = status == 503 && http.retry_on.status_503 && replayable && !use_pinned;
      if (!retry_503) {
        log_.first_byte = Clock::now() - log_.started;
        co_return Exchanged::response;
      }
      // Counted as a refusal by answer (reason="banner", as an SMTP
      // server's 4xx greeting is), not as a broken connection.
      attempt.failed(attempt_stream(*up), balancer::ConnectFailure::banner);
      answered_503 = true;
      up->stream.close();
      up.reset();
      rparser.reset();
      continue;
    }
    // No response. A server that is not answering within response-timeout
    // is not retried (it may still be working on the request).
    up->stream.close();
    if (timed_out) {
      attempt.failed(attempt_stream(*up), balancer::ConnectFailure::timeout);
      up.reset();
      co_await side_.answer({504, "Gateway Timeout",
                             "switchboard: the server did not answer within response-timeout",
                             "response-timeout", true, route_.counters.get()});
      co_return Exchanged::answered_close;
    }
    // A reused connection the server had closed meanwhile is no fault of
    // the server's.
    answered_503 = false;
    if (!up->reused) attempt.failed(attempt_stream(*up), balancer::ConnectFailure::reset);
    const bool may_retry = replayable && http.retry_on.reset && !use_pinned && side_.body_done();
    up.reset();
    if (may_retry) continue;
    co_await side_.answer({502, "Bad Gateway",
                           "switchboard: the server closed the connection without a response",
                           "server-reset", true, route_.counters.get()});
    co_return Exchanged::answered_close;
  }
}

// Reads the response head within response-timeout; interim responses (1xx
// but 101) are passed on to the client, 100 Continue is not (the proxy
// answered the client's Expect itself).
awaitable<bool> Exchange::read_response_head(Upstream& up, std::optional<ResponseParser>& rparser,
                                             bool& timed_out) {
  const auto& http = h_.http();
  for (;;) {
    rparser->header_limit(header_limit(std::max<std::uint64_t>(http.max_header_size, 64 * 1024)));
    rparser->body_limit(boost::none);
    if (req_.method == bhttp::verb::head) rparser->skip(true);
    const auto asked = Clock::now();
    up_dog_.arm(http.response_timeout);
    auto [ec, n] = co_await bhttp::async_read_header(up.stream, *up.buffer, *rparser, use_nothrow);
    up_dog_.disarm();
    if (ec) {
      timed_out = up_dog_.expired();
      co_return false;
    }
    if (worker_.metrics_counting()) {
      // switchboard_server_response_duration_seconds: to the head of the
      // server's answer.
      up.view().stats->response_duration.observe(
          std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - asked));
    }
    const unsigned status = rparser->get().result_int();
    if (status >= 200 || status == 101) co_return true;
    if (status != 100 && !co_await side_.send_interim(rparser->get())) co_return false;
    rparser.emplace();
  }
}

// Writes to the server within idle-timeout.
awaitable<bool> Exchange::to_server(Upstream& up, asio::const_buffer data) {
  up_dog_.arm(h_.listener().idle_timeout);
  auto [ec, n] = co_await asio::async_write(up.stream, data, use_nothrow);
  up_dog_.disarm();
  co_return !ec;
}

// The attempt counts failures against the stream it handed out.
UpstreamStream Exchange::attempt_stream(Upstream& up) {
  return UpstreamStream{tcp::socket(worker_.io()), up.snapshot, up.server, {}};
}

void release_upstream(Worker& worker, Upstream& up, bool reusable) {
  const auto& keepalive = up.route->pool->config.keepalive;
  if (reusable && keepalive.max_idle > 0 && up.buffer->size() == 0) {
    worker.keepalive().give_back(up.pool_key, std::move(up.stream), keepalive.max_idle,
                                 keepalive.idle_timeout);
  } else {
    up.stream.close();
  }
}

void set_affinity_cookie(Fields& response, const HttpHandler& handler, const Upstream& up,
                         std::optional<std::uint64_t> preferred_server, bool tls) {
  const auto& http = handler.http();
  if (http.affinity != config::Affinity::cookie) return;
  const balancer::ServerView& view = up.view();
  if (preferred_server && *preferred_server == view.id) return;
  response.insert(
      bhttp::field::set_cookie,
      affinity_cookie(http.cookie_name, server_token(up.route->pool->config.name, view.name), tls,
                      std::chrono::duration_cast<std::chrono::seconds>(http.cookie_max_age)));
}

void count_server_bytes(Worker& worker, const Upstream& up, const HttpAccessRecord& log) {
  if (!worker.metrics_counting()) return;
  auto& stats = *up.view().stats;
  stats.bytes_out.fetch_add(log.bytes_in, std::memory_order_relaxed);
  stats.bytes_in.fetch_add(log.bytes_out, std::memory_order_relaxed);
}

}  // namespace sb::runtime::http
