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
#include "proxy/protocols/http/exchange.h"
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

using RequestParser = bhttp::request_parser<bhttp::buffer_body>;

std::uint32_t header_limit(std::uint64_t configured) {
  return static_cast<std::uint32_t>(std::min<std::uint64_t>(configured, 16u * 1024 * 1024));
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// HTTP/2 with prior knowledge on a cleartext listener: the client's
// preface (RFC 9113 §3.4).
bool is_h2_preface(const beast::flat_buffer& buffer) {
  constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  const auto data = buffer.data();
  return std::string_view(static_cast<const char*>(data.data()), data.size()).starts_with(kPreface);
}

class Session final : public ClientSide {
 public:
  Session(Worker& worker, const HttpHandler& handler, AdmittedClient& client, net::Stream& stream,
          const ClientInfo& info)
      : worker_(worker),
        h_(handler),
        client_(client),
        info_(info),
        stream_(stream),
        dog_(stream_.socket()),
        chunk_(new char[kChunk]) {
    // Beast reads as much as the buffer has room for, and at least 512
    // bytes: room for a whole request head at once (the server side's
    // buffer gets its room when a request first goes to a server).
    cbuf_.reserve(4096);
  }

  // Serves requests until the connection ends. Returns the bytes read when
  // the client turned out to speak HTTP/2 with prior knowledge (its
  // preface, read as an HTTP/1.1 request "PRI * HTTP/2.0"), else nothing.
  awaitable<std::optional<std::string>> run() {
    if (!stream_.is_tls() && !client_.early_data.empty()) {
      // Bytes that came behind a PROXY header are the request's first.
      auto space = cbuf_.prepare(client_.early_data.size());
      std::memcpy(space.data(), client_.early_data.data(), client_.early_data.size());
      cbuf_.commit(client_.early_data.size());
    }
    while (co_await serve_one()) {
    }
    co_await dog_.stop();
    co_await up_dog_stop();
    if (pinned_) pinned_->stream.close();
    if (!h2_preface_) co_return std::nullopt;
    const auto bytes = cbuf_.data();
    co_return std::string(static_cast<const char*>(bytes.data()), bytes.size());
  }

 private:
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
    const auto took = Clock::now() - log_.started;
    counters.count(log_.status, took);
    if (!access_log_enabled()) return;
    log_.connection = info_.connection;
    log_.listener = h_.listener().name;
    log_.client = info_.text;
    log_.protocol = "h1";
    log_.tls_version = info_.tls_version;
    log_.sni = info_.sni;
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
    if (requests_ > 0 && winding_down()) co_return false;
    // Idle between requests: a graceful stop or a reload may close it.
    const bool idle = cbuf_.size() == 0;
    if (idle) worker_.add_idle({&stream_.socket(), &client_.listener->retired});
    dog_.arm(http.request_timeout);
    auto [ec, n] = co_await bhttp::async_read_header(stream_, cbuf_, parser, use_nothrow);
    dog_.disarm();
    if (idle) worker_.remove_idle(&stream_.socket());
    log_.started = Clock::now();
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
      if (requests_ == 0 && !stream_.is_tls() && is_h2_preface(cbuf_)) {
        h2_preface_ = true;  // Beast reads it as a bad request: nothing was consumed
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
    auto& req = parser.get();
    ++requests_;
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
    auto& req = parser.get();
    Request request;
    request.fields = &req;
    request.method = req.method();
    request.method_string = req.method_string();
    request.target = req.target();
    request.version = req.version();
    request.host = host_;
    request.framing = parser.chunked()                      ? Framing::chunked
                      : parser.content_length().value_or(0) ? Framing::length
                                                            : Framing::none;
    request.content_length = parser.content_length()
                                 ? std::optional<std::uint64_t>(*parser.content_length())
                                 : std::nullopt;
    request.expect_continue = iequals(req[bhttp::field::expect], "100-continue");
    if (request.expect_continue) req.erase(bhttp::field::expect);  // answered here (100 Continue)
    request.keep_alive = req.keep_alive() && req.version() >= 11;
    parser_ = &parser;
    counters_ = route.counters.get();

    Exchange exchange(worker_, h_, route, info_, client_.endpoints, request, *this, log_, up_dog_,
                      ubuf_);
    std::optional<ResponseParser> rparser;
    std::optional<Upstream> up;
    switch (co_await exchange.run(rparser, up, &pinned_)) {
      case Exchanged::response:
        break;
      case Exchanged::answered:
        co_return request.keep_alive;
      case Exchanged::answered_close:
      case Exchanged::client_gone:
        co_return false;
    }
    co_return co_await respond(parser, *rparser, std::move(*up), request.keep_alive,
                               exchange.preferred_server(), exchange.auth_request());
  }

  // ClientSide: what the exchange asks of an HTTP/1.1 client connection.
  bool body_done() const override { return parser_->is_done(); }

  awaitable<bool> send_continue() override {
    return to_client(asio::buffer(std::string_view("HTTP/1.1 100 Continue\r\n\r\n")));
  }

  awaitable<bool> read_whole_body(std::string& out, std::uint64_t limit) override {
    RequestParser& parser = *parser_;
    while (!parser.is_done()) {
      parser.get().body().data = chunk_.get();
      parser.get().body().size = kChunk;
      dog_.arm(h_.listener().idle_timeout);
      auto [ec, n] = co_await bhttp::async_read(stream_, cbuf_, parser, use_nothrow);
      dog_.disarm();
      if (ec && ec != bhttp::error::need_buffer) co_return false;
      const std::size_t got = kChunk - parser.get().body().size;
      if (out.size() + got > limit) co_return false;
      out.append(chunk_.get(), got);
    }
    co_return true;
  }

  awaitable<Relayed> send_body(Upstream& up, Watchdog& up_dog) override {
    RequestParser& parser = *parser_;
    // Taken before the body is read: trailers join the same fields.
    const HeadFields head = parser.chunked() ? head_fields(parser.get()) : HeadFields();
    co_return co_await relay_body(parser, stream_, cbuf_, dog_, up.stream, up_dog, parser.chunked(),
                                  head, relay_space(), log_.bytes_in);
  }

  awaitable<bool> send_interim(const ResponseParser::value_type& interim) override {
    std::string head;
    write_response_head(head, interim.result_int(), interim.reason(), interim, Framing::none, false,
                        {});
    co_return co_await to_client(asio::buffer(head));
  }

  awaitable<void> answer(const OwnAnswer& a) override {
    co_await answer(parser_, a.status, a.phrase, a.body, a.reason, a.close, a.counters,
                    a.retry_after);
  }

  // The response: head and body to the client, then the server connection
  // goes back to the keep-alive pool, stays pinned, or closes.
  awaitable<bool> respond(RequestParser& parser, ResponseParser& rparser, Upstream up,
                          bool client_keep_alive, std::optional<std::uint64_t> preferred_server,
                          bool auth_request) {
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

    if (!switching) set_affinity_cookie(res, h_, up, preferred_server, stream_.is_tls());

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
      const Relayed r =
          co_await relay_body(rparser, up.stream, *up.buffer, up_dog_, stream_, dog_,
                              out == Framing::chunked, response_head_fields, relay_space(),
                              log_.bytes_out, asio::buffer(response_head_), &head_sent);
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
    count_server_bytes(worker_, up, log_);
    const bool reusable = server_done && server_keep_alive && up.buffer->size() == 0;
    if (pin && reusable) {
      pinned_.emplace(std::move(up));
    } else {
      release_upstream(worker_, up, reusable);
      if (pin && !reusable) close = true;  // the authenticated connection is gone
    }
    co_return !close;
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

  // The listener was replaced by a reload, or switchboard is stopping: no
  // further request on this connection.
  bool winding_down() const {
    return worker_.stopping() || client_.listener->retired.load(std::memory_order_relaxed);
  }

  awaitable<void> up_dog_stop() { co_await up_dog_.stop(); }

  // Writes to the server within idle-timeout.
  awaitable<bool> to_server(Upstream& up, asio::const_buffer data) {
    up_dog_.arm(h_.listener().idle_timeout);
    auto [ec, n] = co_await asio::async_write(up.stream, data, use_nothrow);
    up_dog_.disarm();
    co_return !ec;
  }

  Worker& worker_;
  const HttpHandler& h_;
  AdmittedClient& client_;
  const ClientInfo& info_;
  net::Stream& stream_;
  Watchdog dog_;
  // The server side's deadline; watches whichever server connection is in use.
  tcp::socket no_server_{worker_.io()};
  Watchdog up_dog_{no_server_};
  beast::flat_buffer cbuf_;
  // The server side's read buffer, whichever server connection is in use
  // (upstream_link.h, Upstream).
  beast::flat_buffer ubuf_;
  std::unique_ptr<char[]> chunk_;
  std::string host_;
  std::string request_head_;
  std::string response_head_;
  std::string tail_;
  std::uint64_t requests_ = 0;
  HttpAccessRecord log_;
  // The server connection an NTLM/Negotiate handshake pinned this client
  // connection to (docs/configuration.md, "NTLM and Negotiate").
  std::optional<Upstream> pinned_;
  bool pinned_for_life_ = false;
  // The request being served (ClientSide's calls are about it).
  RequestParser* parser_ = nullptr;
  HttpPoolCounters* counters_ = nullptr;
  bool h2_preface_ = false;
};

}  // namespace

awaitable<std::optional<std::string>> serve_h1(Worker& worker, const HttpHandler& handler,
                                               AdmittedClient& client, net::Stream& stream,
                                               const ClientInfo& info) {
  Session session(worker, handler, client, stream, info);
  co_return co_await session.run();
}

}  // namespace sb::runtime::http
