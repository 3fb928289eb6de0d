#include "proxy/protocols/http/h1_session.h"

#include <spdlog/spdlog.h>

#include <array>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <memory>
#include <optional>
#include <string>

#include "net/endpoint.h"
#include "net/stream.h"
#include "proxy/front/listener.h"
#include "proxy/logging.h"
#include "proxy/protocols/http/affinity.h"
#include "proxy/protocols/http/body_relay.h"
#include "proxy/protocols/http/h1_wire.h"
#include "proxy/protocols/http/header_rules.h"
#include "proxy/protocols/http/http_handler.h"
#include "proxy/protocols/http/upstream_link.h"
#include "proxy/protocols/http/watchdog.h"
#include "proxy/upstream/attempt.h"
#include "proxy/worker/worker.h"

namespace sb::runtime::http {
namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using Clock = std::chrono::steady_clock;

// Body bytes moved per read: one buffer per connection.
constexpr std::size_t kChunk = 16 * 1024;
// A request body up to this size is kept for a replay on the next server
// (docs/configuration.md, `retry-on`).
constexpr std::uint64_t kReplayLimit = 64 * 1024;

using RequestParser = bhttp::request_parser<bhttp::buffer_body>;
using ResponseParser = bhttp::response_parser<bhttp::buffer_body>;

std::uint32_t header_limit(std::uint64_t configured) {
  return static_cast<std::uint32_t>(std::min<std::uint64_t>(configured, 16u * 1024 * 1024));
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

class Session {
 public:
  Session(Worker& worker, const HttpHandler& handler, AdmittedClient client)
      : worker_(worker),
        h_(handler),
        client_(std::move(client)),
        stream_(make_stream()),
        dog_(stream_.socket()),
        chunk_(new char[kChunk]) {
    // Beast reads as much as the buffer has room for, and at least 512
    // bytes: room for a whole request head at once (the server side's
    // buffer gets its room when a request first goes to a server).
    cbuf_.reserve(4096);
    client_text_ = net::to_string(client_.endpoints.client);
    const auto ip = net::to_ip(client_.endpoints.client.address()).unmapped();
    client_ip_ = ip.to_string();
    client_v6_ = ip.v6;
  }

  awaitable<void> run() {
    bool go_on = true;
    if (h_.tls()) {
      go_on = co_await handshake();
    } else if (!client_.early_data.empty()) {
      // Bytes that came behind a PROXY header are the request's first.
      auto space = cbuf_.prepare(client_.early_data.size());
      std::memcpy(space.data(), client_.early_data.data(), client_.early_data.size());
      cbuf_.commit(client_.early_data.size());
    }
    while (go_on) go_on = co_await serve_one();
    co_await dog_.stop();
    co_await up_dog_stop();
    if (pinned_) pinned_->stream.close();
    if (handshake_done_) co_await stream_.shutdown();
    stream_.close();
  }

 private:
  net::Stream make_stream() {
    if (h_.tls()) return net::Stream(std::move(client_.socket), h_.tls()->context());
    return net::Stream(std::move(client_.socket));
  }

  awaitable<bool> handshake() {
    dog_.arm(h_.listener().tls->handshake_timeout);
    // A handshake holds no request: a graceful stop does not wait for it.
    worker_.add_idle({&stream_.socket(), nullptr});
    const error_code ec = co_await stream_.handshake_server(asio::buffer(client_.early_data));
    worker_.remove_idle(&stream_.socket());
    dog_.disarm();
    if (ec) {
      h_.stats().tls.failed.fetch_add(1, std::memory_order_relaxed);
      spdlog::debug("listener {}: TLS handshake with {} failed: {}", h_.listener().name,
                    client_text_, dog_.expired() ? "handshake-timeout" : ec.message());
      co_return false;
    }
    h_.stats().tls.ok.fetch_add(1, std::memory_order_relaxed);
    handshake_done_ = true;
    tls_version_ = net::tls_version(stream_.ssl());
    sni_ = net::server_name(stream_.ssl());
    co_return true;
  }

  // Writes `data` to the client within idle-timeout.
  awaitable<bool> to_client(asio::const_buffer data) {
    dog_.arm(h_.listener().idle_timeout);
    auto [ec, n] = co_await asio::async_write(stream_, data, use_nothrow);
    dog_.disarm();
    co_return !ec;
  }

  // One of switchboard's own answers, logged with `reason` and counted.
  awaitable<void> answer(RequestParser* parser, unsigned status, std::string_view phrase,
                         std::string_view body, std::string_view reason, bool close,
                         HttpPoolCounters* counters, std::optional<int> retry_after = {}) {
    const std::string text = own_answer(status, phrase, body, close, retry_after);
    if (co_await to_client(asio::buffer(text))) log_.bytes_out = body.size() + 1;
    log_.status = static_cast<int>(status);
    log_.reason = reason;
    finish_request(parser, counters ? *counters : h_.unrouted());
  }

  void finish_request(RequestParser* parser, HttpPoolCounters& counters) {
    const auto took = Clock::now() - request_started_;
    counters.count(log_.status, took);
    if (!access_log_enabled()) return;
    log_.listener = h_.listener().name;
    log_.client = client_text_;
    log_.protocol = "h1";
    log_.tls_version = tls_version_;
    log_.sni = sni_;
    log_.duration = took;
    if (parser) {
      const auto& req = parser->get();
      log_.method = req.method_string();
      log_.path = req.target();
    }
    log_.host = host_;
    write_access_log(log_);
  }

  // One request and its response; false when the connection ends.
  awaitable<bool> serve_one() {
    const auto& http = h_.http();
    RequestParser parser;
    parser.header_limit(header_limit(http.max_header_size));
    parser.body_limit(boost::none);  // bodies stream: no limit on their size
    log_ = HttpAccessRecord{};
    host_.clear();
    server_name_.clear();
    if (requests_ > 0 && winding_down()) co_return false;
    // Idle between requests: a graceful stop or a reload may close it.
    const bool idle = cbuf_.size() == 0;
    if (idle) worker_.add_idle({&stream_.socket(), &client_.listener->retired});
    dog_.arm(http.request_timeout);
    auto [ec, n] = co_await bhttp::async_read_header(stream_, cbuf_, parser, use_nothrow);
    dog_.disarm();
    if (idle) worker_.remove_idle(&stream_.socket());
    request_started_ = Clock::now();
    if (ec) {
      if (ec == bhttp::error::end_of_stream) co_return false;  // closed between requests
      if (dog_.expired()) {
        // Nothing of a next request yet: a keep-alive connection gone
        // quiet, closed without a word.
        if (requests_ > 0 && cbuf_.size() == 0) co_return false;
        co_await answer(nullptr, 408, "Request Timeout",
                        "switchboard: request headers not received within request-timeout",
                        "request-timeout", true, nullptr);
        co_return false;
      }
      if (ec == bhttp::error::header_limit) {
        co_await answer(nullptr, 431, "Request Header Fields Too Large",
                        "switchboard: request headers over max-header-size", "header-too-large",
                        true, nullptr);
      } else if (ec != bhttp::error::partial_message &&
                 ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category()) {
        // A parse error (a client leaving mid-head is partial_message, a
        // socket error is another category: neither gets an answer).
        co_await answer(nullptr, 400, "Bad Request", "switchboard: malformed request",
                        "bad-request", true, nullptr);
      }
      co_return false;
    }
    ++requests_;
    auto& req = parser.get();
    host_ = std::string(req[bhttp::field::host]);
    // An absolute-form target names the host itself (RFC 9112 §3.2.2).
    if (const std::string_view t = req.target(); !t.empty() && t.front() != '/') {
      if (const auto scheme = t.find("://"); scheme != std::string_view::npos) {
        const std::string_view rest = t.substr(scheme + 3);
        host_ = std::string(rest.substr(0, rest.find_first_of("/?")));
      }
    }
    // A transfer coding other than chunked last leaves the body's end
    // unknown: such a request is refused (RFC 9112 §6.3), never guessed at
    // (the bytes would be read as a next request: request smuggling).
    if (req.count(bhttp::field::transfer_encoding) > 0 && !parser.chunked()) {
      co_await answer(&parser, 400, "Bad Request", "switchboard: unsupported Transfer-Encoding",
                      "bad-transfer-encoding", true, nullptr);
      co_return false;
    }
    const bool has_body = parser.chunked() || parser.content_length().value_or(0) > 0;
    // An early answer leaves an unread body behind: the connection must close.
    const bool close_after_answer = has_body;

    if (req.method() == bhttp::verb::connect) {
      co_await answer(&parser, 405, "Method Not Allowed", "switchboard: CONNECT is not served here",
                      "connect", true, nullptr);
      co_return false;
    }
    // RFC 9112 §3.2: no Host, or more than one, is a bad request (two
    // could route by one and reach a server that reads the other).
    if (req.count(bhttp::field::host) > 1 ||
        (req.version() >= 11 && host_.empty() && req.target().starts_with("/"))) {
      co_await answer(&parser, 400, "Bad Request", "switchboard: a request needs one Host",
                      "no-host", true, nullptr);
      co_return false;
    }
    const auto route_index = h_.routes().match(host_, req.target());
    if (!route_index) {
      co_await answer(&parser, 404, "Not Found", "switchboard: no route for this request",
                      "no-route", close_after_answer || !req.keep_alive(), nullptr);
      co_return !close_after_answer && req.keep_alive();
    }
    const RoutePool& route = h_.route(*route_index);
    log_.pool = route.pool->config.name;
    co_return co_await forward(parser, route);
  }

  awaitable<bool> forward(RequestParser& parser, const RoutePool& route) {
    const auto& http = h_.http();
    const PoolRuntime& pool = *route.pool;
    auto& req = parser.get();
    const bool client_keep_alive = req.keep_alive() && req.version() >= 11;
    const bool expect_continue = iequals(req[bhttp::field::expect], "100-continue");
    if (expect_continue) req.erase(bhttp::field::expect);  // answered here (100 Continue)
    const bool auth_request = is_connection_auth(req[bhttp::field::authorization]);

    // Affinity.
    std::optional<std::uint64_t> hash_key;
    std::optional<std::uint64_t> preferred_server;  // by the cookie or the client address
    if (http.affinity == config::Affinity::cookie) {
      if (auto token = find_cookie(req, http.cookie_name)) {
        if (balancer::Balancer* b = worker_.balancer_for(pool)) {
          preferred_server = server_for_cookie(b->snapshot(), pool.config.name, *token);
        }
      }
    } else if (http.affinity == config::Affinity::source_ip) {
      hash_key = std::hash<std::string_view>{}(client_ip_);
      if (balancer::Balancer* b = worker_.balancer_for(pool)) {
        preferred_server = server_for_source(b->snapshot(), pool.config.name, *hash_key);
      }
    }

    // What the server gets as target and Host: an absolute-form target
    // becomes origin-form and its authority the Host (RFC 9112 §3.2.2); a
    // request without Host (HTTP/1.0) gets the address it reached, since
    // the server is spoken to in HTTP/1.1.
    std::string_view target = req.target();
    std::string origin_form;
    if (!target.empty() && target.front() != '/') {
      if (const auto scheme = target.find("://"); scheme != std::string_view::npos) {
        const std::string_view rest = target.substr(scheme + 3);
        const auto path = rest.find_first_of("/?");
        origin_form = path == std::string_view::npos ? "/" : std::string(rest.substr(path));
        if (origin_form.front() == '?') origin_form.insert(0, "/");
        target = origin_form;
        req.set(bhttp::field::host, host_);
      }
    }
    if (req.count(bhttp::field::host) == 0) {
      req.set(bhttp::field::host, h_.listener().listen.front().to_string());
    }

    std::string upgrade;
    // h2c is HTTP/2 to this proxy, not a protocol to tunnel to a server.
    const bool wants_upgrade = remove_hop_by_hop(req, &upgrade) && !iequals(upgrade, "h2c");
    if (http.forwarded_headers) {
      add_forwarded(
          req, ForwardedFor{client_ip_, client_v6_, stream_.is_tls() ? "https" : "http", host_});
    }
    const Framing framing = parser.chunked()                      ? Framing::chunked
                            : parser.content_length().value_or(0) ? Framing::length
                                                                  : Framing::none;
    write_request_head(request_head_, req.method_string(), target, req, framing,
                       wants_upgrade ? std::string_view(upgrade) : std::string_view());
    const HeadFields request_head_fields =
        framing == Framing::chunked ? head_fields(req) : HeadFields();

    const bool retry_any =
        http.retry_on.connect_failure || http.retry_on.reset || http.retry_on.status_503;
    const bool replayable =
        is_idempotent(req.method()) && retry_any &&
        (framing == Framing::none ||
         (framing == Framing::length && *parser.content_length() <= kReplayLimit));
    // A body kept for a replay is read before any server is tried.
    std::string replay_body;
    bool sent_continue = false;
    if (replayable && framing != Framing::none) {
      if (expect_continue) {
        if (!co_await to_client(asio::buffer(std::string_view("HTTP/1.1 100 Continue\r\n\r\n"))))
          co_return false;
        sent_continue = true;
      }
      if (!co_await read_whole_body(parser, replay_body)) co_return false;
    }

    UpstreamAttempt attempt(worker_, pool, client_.endpoints, hash_key);
    if (preferred_server) attempt.prefer(*preferred_server);
    if (!http.retry_on.connect_failure) attempt.no_connect_retries();
    std::optional<UpstreamTls> tls_step;
    std::uint64_t reuse_salt = 0;
    if (route.upstream_tls) {
      const auto& tls = *pool.config.tls;
      std::string sni = tls.sni.empty() ? sni_of(host_) : tls.sni;
      if (tls.sni.empty()) reuse_salt = std::hash<std::string>{}(sni) | 1;
      tls_step.emplace(route.upstream_tls, std::move(sni),
                       tls.verify == config::TlsVerify::required, pool.config.connect_timeout);
    }
    PooledReuse reuse(worker_.keepalive(), pool.config.keepalive.max_idle > 0, reuse_salt);

    std::optional<ResponseParser> rparser;
    std::optional<Upstream> up;
    bool answered_503 = false;  // the last server asked answered 503
    for (;;) {
      const bool use_pinned = pinned_ && pinned_->route == &route;
      if (use_pinned) {
        up = std::move(pinned_);
        pinned_.reset();
      } else {
        if (pinned_) {  // a request for another pool: the pin is over
          pinned_->stream.close();
          pinned_.reset();
        }
        auto got = co_await attempt.next(tls_step ? &*tls_step : nullptr, &reuse);
        log_.retries = attempt.retries();
        if (!got) {
          // Every server asked said 503 (retry-on: 503): the service is
          // unavailable, not broken.
          const bool none_eligible =
              attempt.tried() == 0 || attempt.end() != AttemptEnd::exhausted || answered_503;
          if (none_eligible) {
            co_await answer(&parser, 503, "Service Unavailable",
                            "switchboard: no server of this service is available",
                            answered_503                               ? "servers-unavailable"
                            : attempt.end() == AttemptEnd::local_fault ? "local-fault"
                                                                       : "no-server",
                            close_after(parser), route.counters.get(), 5);
          } else {
            co_await answer(&parser, 502, "Bad Gateway",
                            "switchboard: no server of this service answered", "servers-failed",
                            close_after(parser), route.counters.get());
          }
          co_return !close_after(parser) && client_keep_alive;
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
        if (ubuf_.capacity() == 0) ubuf_.reserve(kChunk);  // a response in one read
        up.emplace(Upstream{std::move(*stream), std::move(got->snapshot), got->server,
                            std::move(got->active), &route, got->reused, pool_key, &ubuf_});
      }
      up_dog_.watch(up->stream.socket());
      server_name_ = up->view().name;
      log_.server = server_name_;

      // The request: head, then the body kept for a replay or streamed.
      bool sent = co_await to_server(*up, asio::buffer(request_head_));
      if (sent && !replay_body.empty()) sent = co_await to_server(*up, asio::buffer(replay_body));
      if (sent && framing != Framing::none && replay_body.empty() && !parser.is_done()) {
        if (expect_continue && !sent_continue) {
          if (!co_await to_client(
                  asio::buffer(std::string_view("HTTP/1.1 100 Continue\r\n\r\n")))) {
            up->stream.close();
            co_return false;
          }
          sent_continue = true;
        }
        const Relayed r = co_await relay_body(parser, stream_, cbuf_, dog_, up->stream, up_dog_,
                                              framing == Framing::chunked, request_head_fields,
                                              relay_space(), log_.bytes_in);
        if (r == Relayed::from_failed) {  // the client left mid-body
          up->stream.close();
          co_return false;
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
        if (!co_await read_response_head(*up, rparser, req.method() == bhttp::verb::head,
                                         timed_out)) {
          rparser.reset();
        }
      }
      if (rparser) {
        const unsigned status = rparser->get().result_int();
        const bool retry_503 =
            status == 503 && http.retry_on.status_503 && replayable && !use_pinned;
        if (!retry_503) break;
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
        co_await answer(&parser, 504, "Gateway Timeout",
                        "switchboard: the server did not answer within response-timeout",
                        "response-timeout", true, route.counters.get());
        co_return false;
      }
      // A reused connection the server had closed meanwhile is no fault of
      // the server's.
      answered_503 = false;
      if (!up->reused) attempt.failed(attempt_stream(*up), balancer::ConnectFailure::reset);
      const bool may_retry = replayable && http.retry_on.reset && !use_pinned && parser.is_done();
      up.reset();
      if (may_retry) continue;
      co_await answer(&parser, 502, "Bad Gateway",
                      "switchboard: the server closed the connection without a response",
                      "server-reset", true, route.counters.get());
      co_return false;
    }
    co_return co_await respond(parser, *rparser, std::move(*up), client_keep_alive,
                               preferred_server, auth_request);
  }

  // The response: head and body to the client, then the server connection
  // goes back to the keep-alive pool, stays pinned, or closes.
  awaitable<bool> respond(RequestParser& parser, ResponseParser& rparser, Upstream up,
                          bool client_keep_alive, std::optional<std::uint64_t> preferred_server,
                          bool auth_request) {
    const auto& http = h_.http();
    auto& req = parser.get();
    auto& res = rparser.get();
    const unsigned status = res.result_int();
    const bool server_keep_alive = res.keep_alive();
    // Once authenticated, a connection stays pinned for the client
    // connection's life: later requests carry no credentials.
    const bool pin = pinned_for_life_ || auth_request || demands_connection_auth(res);
    pinned_for_life_ = pin;
    std::string upgrade;
    remove_hop_by_hop(res, &upgrade);
    const bool switching = status == 101 && !upgrade.empty();

    if (http.affinity == config::Affinity::cookie && !switching) {
      const balancer::ServerView& view = up.view();
      if (!preferred_server || *preferred_server != view.id) {
        res.insert(
            bhttp::field::set_cookie,
            affinity_cookie(http.cookie_name, server_token(up.route->pool->config.name, view.name),
                            stream_.is_tls(),
                            std::chrono::duration_cast<std::chrono::seconds>(http.cookie_max_age)));
      }
    }

    const bool no_body =
        req.method() == bhttp::verb::head || status == 204 || status == 304 || status < 200;
    Framing in = Framing::none;
    if (!no_body) {
      in = rparser.chunked()                      ? Framing::chunked
           : rparser.content_length().has_value() ? Framing::length
                                                  : Framing::close;
    }
    // What the client gets: a body of unknown length goes chunked, so that
    // the client connection can stay open.
    // (HTTP/1.0 clients know no chunks: theirs ends with the connection.)
    const bool chunks_ok = req.version() >= 11;
    Framing out = in;
    if ((in == Framing::close || in == Framing::chunked) && !chunks_ok) {
      out = Framing::close;
    } else if (in == Framing::close) {
      out = Framing::chunked;
    }
    bool close = !client_keep_alive || !parser.is_done() || winding_down() || out == Framing::close;
    write_response_head(response_head_, status, res.reason(), res, out, close && !switching,
                        switching ? std::string_view(upgrade) : std::string_view());
    const HeadFields response_head_fields =
        out == Framing::chunked ? head_fields(res) : HeadFields();
    log_.status = static_cast<int>(status);
    bool server_done = true;
    if (in == Framing::none || switching) {
      if (!co_await to_client(asio::buffer(response_head_))) {
        up.stream.close();
        finish_request(&parser, *up.route->counters);
        co_return false;
      }
      if (switching) {
        finish_request(&parser, *up.route->counters);
        co_await tunnel(up);
        co_return false;
      }
    } else {
      // The head goes out with the body's first piece (body_relay.h).
      bool head_sent = false;
      const Relayed r = co_await relay_body(
          rparser, up.stream, *up.buffer, up_dog_, stream_, dog_, out == Framing::chunked,
          response_head_fields, relay_space(), log_.bytes_out, asio::buffer(response_head_),
          &head_sent);
      if (r != Relayed::ok) {
        up.stream.close();
        if (r == Relayed::from_failed && !head_sent) {
          // Nothing reached the client yet: it can still be told.
          co_await answer(&parser, 502, "Bad Gateway",
                          "switchboard: the server closed the connection mid-response",
                          "server-reset-mid-body", true, up.route->counters.get());
          co_return false;
        }
        // Mid-body: nothing else can be said to the client.
        log_.reason = r == Relayed::from_failed ? "server-reset-mid-body" : "client-left";
        finish_request(&parser, *up.route->counters);
        co_return false;
      }
      server_done = in != Framing::close;
    }
    finish_request(&parser, *up.route->counters);
    count_bytes(up);
    const auto& keepalive = up.route->pool->config.keepalive;
    if (pin && server_done && server_keep_alive && up.buffer->size() == 0) {
      pinned_.emplace(std::move(up));
    } else if (server_done && server_keep_alive && keepalive.max_idle > 0 &&
               up.buffer->size() == 0) {
      worker_.keepalive().give_back(up.pool_key, std::move(up.stream), keepalive.max_idle,
                                    keepalive.idle_timeout);
    } else {
      up.stream.close();
      if (pin) close = true;  // the authenticated connection is gone
    }
    co_return !close;
  }

  // Reads the response head within response-timeout; interim responses
  // (1xx but 101) are passed on to the client, 100 Continue is not (the
  // proxy answered the client's Expect itself).
  awaitable<bool> read_response_head(Upstream& up, std::optional<ResponseParser>& rparser,
                                     bool head_request, bool& timed_out) {
    const auto& http = h_.http();
    for (;;) {
      rparser->header_limit(header_limit(std::max<std::uint64_t>(http.max_header_size, 64 * 1024)));
      rparser->body_limit(boost::none);
      if (head_request) rparser->skip(true);
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
      if (status != 100) {
        std::string head;
        write_response_head(head, status, rparser->get().reason(), rparser->get(), Framing::none,
                            false, {});
        if (!co_await to_client(asio::buffer(head))) co_return false;
      }
      rparser.emplace();
    }
  }

  // Writes to the server within idle-timeout.
  awaitable<bool> to_server(Upstream& up, asio::const_buffer data) {
    up_dog_.arm(h_.listener().idle_timeout);
    auto [ec, n] = co_await asio::async_write(up.stream, data, use_nothrow);
    up_dog_.disarm();
    co_return !ec;
  }

  // A body kept whole (at most kReplayLimit bytes).
  awaitable<bool> read_whole_body(RequestParser& parser, std::string& out) {
    while (!parser.is_done()) {
      parser.get().body().data = chunk_.get();
      parser.get().body().size = kChunk;
      dog_.arm(h_.listener().idle_timeout);
      auto [ec, n] = co_await bhttp::async_read(stream_, cbuf_, parser, use_nothrow);
      dog_.disarm();
      if (ec && ec != bhttp::error::need_buffer) co_return false;
      const std::size_t got = kChunk - parser.get().body().size;
      if (out.size() + got > kReplayLimit) co_return false;
      out.append(chunk_.get(), got);
      log_.bytes_in += got;
    }
    co_return true;
  }

  // After a 101: bytes both ways until either side closes or idles out.
  awaitable<void> tunnel(Upstream& up) {
    // What each side sent past the upgrade's heads goes first.
    if (cbuf_.size() > 0) {
      if (!co_await to_server(up, cbuf_.data())) {
        up.stream.close();
        co_return;
      }
      cbuf_.consume(cbuf_.size());
    }
    if (up.buffer->size() > 0) {
      if (!co_await to_client(up.buffer->data())) {
        up.stream.close();
        co_return;
      }
      up.buffer->consume(up.buffer->size());
    }
    std::unique_ptr<char[]> back(new char[kChunk]);
    const auto idle = h_.listener().idle_timeout;
    co_await (
        pump(stream_, dog_, up.stream, up_dog_, {chunk_.get(), kChunk}, idle, log_.bytes_in) &&
        pump(up.stream, up_dog_, stream_, dog_, {back.get(), kChunk}, idle, log_.bytes_out));
    up.stream.close();
  }

  RelaySpace relay_space() { return {{chunk_.get(), kChunk}, tail_, h_.listener().idle_timeout}; }

  // switchboard_server_bytes_total: the request's and the response's
  // bodies (heads are not counted, as the L4 relay counts payload).
  void count_bytes(const Upstream& up) {
    if (!worker_.metrics_counting()) return;
    auto& stats = *up.view().stats;
    stats.bytes_out.fetch_add(log_.bytes_in, std::memory_order_relaxed);
    stats.bytes_in.fetch_add(log_.bytes_out, std::memory_order_relaxed);
  }

  // The listener was replaced by a reload, or switchboard is stopping: no
  // further request on this connection.
  bool winding_down() const {
    return worker_.stopping() || client_.listener->retired.load(std::memory_order_relaxed);
  }

  awaitable<void> up_dog_stop() { co_await up_dog_.stop(); }

  bool close_after(const RequestParser& parser) const { return !parser.is_done(); }

  // The attempt counts failures against the stream it handed out.
  UpstreamStream attempt_stream(Upstream& up) {
    return UpstreamStream{tcp::socket(worker_.io()), up.snapshot, up.server, {}};
  }

  Worker& worker_;
  const HttpHandler& h_;
  AdmittedClient client_;
  net::Stream stream_;
  Watchdog dog_;
  // The server side's deadline; watches whichever server connection is in use.
  tcp::socket no_server_{worker_.io()};
  Watchdog up_dog_{no_server_};
  beast::flat_buffer cbuf_;
  // The server side's read buffer, whichever server connection is in use
  // (upstream_link.h, Upstream).
  beast::flat_buffer ubuf_;
  std::unique_ptr<char[]> chunk_;
  std::string client_text_;
  std::string client_ip_;
  bool client_v6_ = false;
  bool handshake_done_ = false;
  std::string tls_version_;
  std::string sni_;
  std::string host_;
  std::string server_name_;  // the access log's, kept past the server connection
  std::string request_head_;
  std::string response_head_;
  std::string tail_;
  std::uint64_t requests_ = 0;
  Clock::time_point request_started_;
  HttpAccessRecord log_;
  // The server connection an NTLM/Negotiate handshake pinned this client
  // connection to (docs/configuration.md, "NTLM and Negotiate").
  std::optional<Upstream> pinned_;
  bool pinned_for_life_ = false;
};

}  // namespace

awaitable<void> serve_h1(Worker& worker, const HttpHandler& handler, AdmittedClient client) {
  Session session(worker, handler, std::move(client));
  co_await session.run();
}

}  // namespace sb::runtime::http
