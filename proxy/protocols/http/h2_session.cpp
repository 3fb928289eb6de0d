#include "proxy/protocols/http/h2_session.h"

#include <nghttp2/nghttp2.h>
#include <spdlog/spdlog.h>

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/read.hpp>
#include <charconv>
#include <chrono>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "proxy/front/listener.h"
#include "proxy/logging.h"
#include "proxy/protocols/http/exchange.h"
#include "proxy/protocols/http/h2_codec.h"
#include "proxy/protocols/http/http_handler.h"
#include "proxy/worker/worker.h"

namespace sb::runtime::http {
namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using Clock = std::chrono::steady_clock;

// Response body bytes moved per read from a server: one buffer per stream
// while its body flows, from the worker's pool.
constexpr std::size_t kChunk = BufferPool::kBufferSize;
// Bytes of frames gathered into one write to the client.
constexpr std::size_t kWriteBatch = 64 * 1024;

// Fields that may not travel as trailers (RFC 9110 §6.5.1): framing,
// routing and connection-specific ones (lower-case names).
bool is_forbidden_trailer(std::string_view name) {
  for (std::string_view f : {"content-length", "transfer-encoding", "host", "connection",
                             "keep-alive", "te", "trailer", "upgrade", "proxy-connection"}) {
    if (name.size() == f.size() &&
        std::equal(name.begin(), name.end(), f.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) == b;
        })) {
      return true;
    }
  }
  return false;
}

std::string lower(std::string_view name) {
  std::string out(name);
  for (auto& ch : out) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return out;
}

// A response head's fields as HTTP/2 sends them (lower-case names).
H2Fields h2_fields(const Fields& fields) {
  H2Fields out;
  out.reserve(std::distance(fields.begin(), fields.end()));
  for (const auto& f : fields) out.emplace_back(lower(f.name_string()), std::string(f.value()));
  return out;
}

H2Settings h2_settings(const HttpHandler& h) {
  H2Settings s;
  s.max_concurrent_streams = h.http().h2.max_concurrent_streams;
  s.initial_window_size = h.http().h2.initial_window_size;
  s.max_header_list_size = h.http().max_header_size;
  s.max_resets_per_second = h.http().h2.max_resets_per_second;
  return s;
}

// Wakes a coroutine waiting on it (a timer that never expires by itself:
// cancel() is the notification). Waits check their condition first, so a
// notification without a waiter is not lost.
class Signal {
 public:
  explicit Signal(const asio::any_io_executor& ex) : timer_(ex) {}
  void notify() { timer_.cancel(); }
  // Waits for a notification or `timeout`; false when the time ran out.
  awaitable<bool> wait(Clock::duration timeout) {
    timer_.expires_after(timeout);
    auto [ec] = co_await timer_.async_wait(use_nothrow);
    co_return ec == asio::error::operation_aborted;
  }

 private:
  asio::steady_timer timer_;
};

class Connection;

// One HTTP/2 stream: a request and its response.
class H2Stream final : public ClientSide, public H2Body {
 public:
  H2Stream(Connection& conn, std::int32_t id, H2RequestHead head, bool end_stream);

  awaitable<void> run();

  // What the client sends after the head (H2Codec's events).
  void on_data(std::string_view data) {
    body_in_.append(data);
    wake_.notify();
  }
  void on_end_stream(H2Fields trailers) {
    trailers_in_ = std::move(trailers);
    body_end_ = true;
    wake_.notify();
  }
  void on_close(std::uint32_t code) {
    closed_ = true;
    close_code_ = code;
    wake_.notify();
  }

  // H2Body: nghttp2 asks for the next piece of the response body.
  std::optional<std::size_t> read(std::uint8_t* buf, std::size_t max, bool& end) override;
  H2Fields trailers() override { return trailers_out_; }

  // After an exception: the stream is reset, so that it does not stay
  // open (holding a stream slot, keeping the connection from closing).
  void fail();

  // ClientSide
  bool body_done() const override { return body_end_ && body_in_.empty(); }
  awaitable<bool> send_continue() override;
  awaitable<bool> read_whole_body(std::string& out, std::uint64_t limit) override;
  awaitable<Relayed> send_body(Upstream& up, Watchdog& up_dog) override;
  awaitable<bool> send_interim(const ResponseParser::value_type& interim) override;
  awaitable<void> answer(const OwnAnswer& a) override;

 private:
  awaitable<bool> wait_for_body();
  awaitable<bool> respond(ResponseParser& rparser, Upstream& up, const Exchange& exchange);
  // Submits a response head (and the body through read() when `body`);
  // false when the stream is gone.
  bool submit_head(unsigned status, const Fields* fields, bool body, H2Fields extra = {});
  // Lets nghttp2 read the body again after it found nothing to send.
  void resume();
  // Waits until nghttp2 took all of out_; false when the stream ended
  // before it did.
  awaitable<bool> drain();
  void finish(HttpPoolCounters& counters);
  // The fields a chunked response's parser added after `head`: its trailers.
  void collect_trailers(const Fields& fields, const HeadFields& head);

  Connection& conn_;
  std::int32_t id_;
  Signal wake_;
  bhttp::request<bhttp::empty_body> req_;
  std::string method_, path_, authority_;
  bool too_large_ = false;
  H2Fields fields_;         // the head's, until run() makes req_ of them
  bool responded_ = false;  // a response head was submitted
  std::string body_in_;     // DATA received, not yet sent on
  H2Fields trailers_in_;
  H2Fields trailers_out_;  // lower-case names
  bool body_end_ = false;
  bool closed_ = false;
  std::uint32_t close_code_ = 0;
  // The response body's piece waiting for nghttp2 to take it.
  const char* out_ = nullptr;
  std::size_t out_size_ = 0;
  bool out_eof_ = false;
  bool deferred_ = false;
  // The response body's buffer, the worker's, held while the body flows.
  std::optional<BufferPool::Lease> chunk_;
  std::string own_body_;
  beast::flat_buffer ubuf_;
  tcp::socket no_server_;
  Watchdog up_dog_{no_server_};
  HttpAccessRecord log_;
  std::string host_;
};

// The client connection: moves bytes between the socket and the codec, and
// runs a coroutine per stream.
class Connection final : public H2Codec::Handler {
 public:
  Connection(Worker& worker, const HttpHandler& handler, AdmittedClient& client,
             net::Stream& stream, const ClientInfo& info)
      : worker(worker),
        h(handler),
        client(client),
        info(info),
        stream_(stream),
        dog_(stream.socket()),
        codec_(h2_settings(handler), *this),
        write_wake_(stream.get_executor()),
        streams_done_(stream.get_executor()),
        tick_(stream.get_executor()) {}

  awaitable<void> run(std::string_view already_read);

  // For streams; each does nothing (false) once the connection is over.
  bool respond(std::int32_t id, unsigned status, const H2Fields& fields, H2Body* body) {
    if (closed_) return false;
    const bool ok = codec_.respond(id, status, fields, body);
    want_write();
    return ok;
  }
  bool interim(std::int32_t id, unsigned status, const H2Fields& fields) {
    if (closed_) return false;
    const bool ok = codec_.interim(id, status, fields);
    want_write();
    return ok;
  }
  void reset(std::int32_t id, std::uint32_t code) {
    if (closed_) return;
    codec_.reset(id, code);
    want_write();
  }
  void consume(std::int32_t id, std::size_t n) {
    if (closed_) return;
    codec_.consume(id, n);
    want_write();
  }
  void resume(std::int32_t id) {
    if (closed_) return;
    codec_.resume(id);
    want_write();
  }
  void want_write() { write_wake_.notify(); }
  void count(H2Limit limit) { h.stats().count_h2(limit); }
  void stream_ended() {
    --running_;
    last_active_ = Clock::now();
    streams_done_.notify();
  }

  Worker& worker;
  const HttpHandler& h;
  AdmittedClient& client;
  const ClientInfo& info;

 private:
  // H2Codec::Handler
  void on_request(std::int32_t id, H2RequestHead head, bool end_stream) override;
  void on_data(std::int32_t id, std::string_view data) override {
    if (const auto it = streams_.find(id); it != streams_.end()) it->second->on_data(data);
  }
  void on_end_stream(std::int32_t id, H2Fields trailers) override {
    if (const auto it = streams_.find(id); it != streams_.end()) {
      it->second->on_end_stream(std::move(trailers));
    }
  }
  void on_close(std::int32_t id, std::uint32_t code) override;
  void on_limit(H2Limit limit) override { count(limit); }

  awaitable<void> read_loop();
  awaitable<void> write_loop();
  awaitable<void> tick_loop();
  bool feed(std::string_view bytes);
  bool winding_down() const {
    return worker.stopping() || client.listener->retired.load(std::memory_order_relaxed);
  }

  net::Stream& stream_;
  Watchdog dog_;
  H2Codec codec_;
  Signal write_wake_;
  Signal streams_done_;
  asio::steady_timer tick_;
  std::map<std::int32_t, std::shared_ptr<H2Stream>> streams_;
  int running_ = 0;  // stream coroutines not yet ended
  bool closed_ = false;
  bool failed_ = false;
  Clock::time_point last_active_ = Clock::now();
  std::string out_;
};

// --- Connection -------------------------------------------------------------

awaitable<void> Connection::run(std::string_view already_read) {
  if (!codec_.ok()) {
    spdlog::error("listener {}: HTTP/2 session could not be set up", h.listener().name);
    co_return;
  }
  try {
    if (!already_read.empty()) feed(already_read);
    co_await (read_loop() && write_loop() && tick_loop());
  } catch (const std::exception& e) {
    // The streams below must still learn that the connection is over and
    // end before it is gone.
    spdlog::error("listener {}: HTTP/2 connection failed: {}", h.listener().name, e.what());
  }
  // The connection is over: every stream still running learns it and ends.
  closed_ = true;
  for (auto& [id, s] : streams_) s->on_close(NGHTTP2_CANCEL);
  streams_.clear();
  while (running_ > 0) co_await streams_done_.wait(std::chrono::seconds(1));
  co_await dog_.stop();
}

void Connection::on_request(std::int32_t id, H2RequestHead head, bool end_stream) {
  // Streams the client reset go on until their server answers: they count
  // against max-concurrent-streams until then, or resetting would let a
  // client have any number of requests at the servers.
  if (running_ >= static_cast<int>(h.http().h2.max_concurrent_streams)) {
    count(H2Limit::concurrent_streams);
    codec_.reset(id, NGHTTP2_REFUSED_STREAM);
    return;
  }
  auto s = std::make_shared<H2Stream>(*this, id, std::move(head), end_stream);
  streams_.emplace(id, s);
  ++running_;
  last_active_ = Clock::now();
  // Started after the codec's callback returns: a stream's first steps
  // (an own answer) call into the codec.
  asio::post(stream_.get_executor(), [this, s = std::move(s)]() mutable {
    asio::co_spawn(
        stream_.get_executor(),
        [this, s = std::move(s)]() -> awaitable<void> {
          try {
            co_await s->run();
          } catch (const std::exception& e) {
            spdlog::error("listener {}: HTTP/2 stream failed: {}", h.listener().name, e.what());
            s->fail();
          }
          stream_ended();
        },
        asio::detached);
  });
}

void Connection::on_close(std::int32_t id, std::uint32_t code) {
  const auto it = streams_.find(id);
  if (it == streams_.end()) return;
  it->second->on_close(code);
  streams_.erase(it);
  last_active_ = Clock::now();
}

bool Connection::feed(std::string_view bytes) {
  const bool ok = codec_.receive(bytes);
  if (!ok) failed_ = true;
  want_write();
  return ok;
}

awaitable<void> Connection::read_loop() {
  std::unique_ptr<char[]> buf(new char[kChunk]);
  while (!failed_ && codec_.wants_read()) {
    auto [ec, n] = co_await stream_.async_read_some(asio::buffer(buf.get(), kChunk), use_nothrow);
    if (ec) break;
    if (!feed({buf.get(), n})) break;
  }
  // Nothing more is read: the writer flushes what is queued (a GOAWAY) and
  // ends, and so does the tick.
  failed_ = true;
  want_write();
  tick_.cancel();
}

awaitable<void> Connection::write_loop() {
  for (;;) {
    out_.clear();
    if (!codec_.output(out_, kWriteBatch)) break;
    if (!out_.empty()) {
      dog_.arm(h.listener().idle_timeout);
      auto [ec, n] = co_await asio::async_write(stream_, asio::buffer(out_), use_nothrow);
      dog_.disarm();
      if (ec) break;
      continue;
    }
    if (codec_.ended() || failed_) break;
    if (codec_.going_away() && streams_.empty()) break;
    co_await write_wake_.wait(std::chrono::hours(24));
  }
  // Ends the read loop too.
  failed_ = true;
  error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
  tick_.cancel();
}

// Once a second: a connection without streams for request-timeout is
// closed, and a stop or a reload sends GOAWAY (streams in flight finish;
// new ones are refused).
awaitable<void> Connection::tick_loop() {
  while (!failed_) {
    tick_.expires_after(std::chrono::seconds(1));
    co_await tick_.async_wait(use_nothrow);
    if (failed_) break;
    if (!codec_.going_away() && winding_down()) {
      codec_.goaway();
      want_write();
    }
    if (!codec_.going_away() && streams_.empty() && running_ == 0 &&
        Clock::now() - last_active_ >= h.http().request_timeout) {
      count(H2Limit::idle_timeout);
      codec_.terminate(NGHTTP2_NO_ERROR);
      want_write();
    }
  }
}

// --- H2Stream ---------------------------------------------------------------

H2Stream::H2Stream(Connection& conn, std::int32_t id, H2RequestHead head, bool end_stream)
    : conn_(conn),
      id_(id),
      wake_(conn.worker.io().get_executor()),
      method_(std::move(head.method)),
      path_(std::move(head.path)),
      authority_(std::move(head.authority)),
      too_large_(head.too_large),
      fields_(std::move(head.fields)),
      body_end_(end_stream),
      no_server_(conn.worker.io()) {
  log_.started = Clock::now();
}

void H2Stream::fail() {
  if (!closed_) conn_.reset(id_, NGHTTP2_INTERNAL_ERROR);
}

awaitable<bool> H2Stream::wait_for_body() {
  const auto idle = conn_.h.listener().idle_timeout;
  while (body_in_.empty() && !body_end_ && !closed_) {
    if (!co_await wake_.wait(idle)) co_return false;
  }
  co_return !closed_ || !body_in_.empty();
}

awaitable<bool> H2Stream::send_continue() {
  co_return !closed_ && conn_.interim(id_, 100, {});
}

awaitable<bool> H2Stream::read_whole_body(std::string& out, std::uint64_t limit) {
  for (;;) {
    if (!co_await wait_for_body()) co_return false;
    if (out.size() + body_in_.size() > limit) co_return false;
    out += body_in_;
    conn_.consume(id_, body_in_.size());
    body_in_.clear();
    if (body_end_) co_return true;
  }
}

awaitable<Relayed> H2Stream::send_body(Upstream& up, Watchdog& up_dog) {
  const bool chunked = !req_.count(bhttp::field::content_length);
  const auto idle = conn_.h.listener().idle_timeout;
  std::string piece;
  for (;;) {
    if (!co_await wait_for_body()) co_return Relayed::from_failed;
    piece.swap(body_in_);
    body_in_.clear();
    const std::size_t n = piece.size();
    if (n > 0) {
      up_dog.arm(idle);
      error_code ec;
      if (chunked) {
        char header[20];
        const std::size_t hlen = chunk_header(header, n);
        const std::array<asio::const_buffer, 3> pieces = {
            asio::buffer(header, hlen), asio::buffer(piece), asio::buffer("\r\n", 2)};
        std::tie(ec, std::ignore) = co_await asio::async_write(up.stream, pieces, use_nothrow);
      } else {
        std::tie(ec, std::ignore) =
            co_await asio::async_write(up.stream, asio::buffer(piece), use_nothrow);
      }
      up_dog.disarm();
      if (ec) co_return Relayed::to_failed;
      log_.bytes_in += n;
      // Only now may the client send as much again.
      conn_.consume(id_, n);
    }
    if (body_end_ && body_in_.empty()) break;
  }
  if (chunked) {
    std::string last = "0\r\n";
    for (const auto& [name, value] : trailers_in_) {
      if (is_forbidden_trailer(name)) continue;
      last.append(name).append(": ").append(value).append("\r\n");
    }
    last += "\r\n";
    up_dog.arm(idle);
    auto [ec, w] = co_await asio::async_write(up.stream, asio::buffer(last), use_nothrow);
    up_dog.disarm();
    if (ec) co_return Relayed::to_failed;
  }
  co_return Relayed::ok;
}

awaitable<bool> H2Stream::send_interim(const ResponseParser::value_type& interim) {
  if (closed_) co_return false;
  // Connection-specific fields make an HTTP/2 response malformed.
  ResponseParser::value_type head = interim;
  remove_hop_by_hop(head);
  co_return conn_.interim(id_, head.result_int(), h2_fields(head));
}

bool H2Stream::submit_head(unsigned status, const Fields* fields, bool body, H2Fields extra) {
  if (closed_) return false;
  H2Fields all = fields ? h2_fields(*fields) : H2Fields();
  for (auto& f : extra) all.push_back(std::move(f));
  responded_ = conn_.respond(id_, status, all, body ? this : nullptr);
  return responded_;
}

std::optional<std::size_t> H2Stream::read(std::uint8_t* buf, std::size_t max, bool& end) {
  if (out_size_ == 0) {
    if (out_eof_) {
      end = true;
      return 0;
    }
    deferred_ = true;
    wake_.notify();  // drained: the stream reads the next piece
    return std::nullopt;
  }
  const std::size_t n = std::min(max, out_size_);
  std::memcpy(buf, out_, n);
  out_ += n;
  out_size_ -= n;
  log_.bytes_out += n;
  if (out_size_ == 0) {
    end = out_eof_;
    wake_.notify();
  }
  return n;
}

void H2Stream::resume() {
  if (deferred_) {
    deferred_ = false;
    conn_.resume(id_);
  }
  conn_.want_write();
}

awaitable<bool> H2Stream::drain() {
  // The client's window decides how fast this goes: a client that never
  // opens it is given idle-timeout, then the stream is reset.
  const auto idle = conn_.h.listener().idle_timeout;
  while (out_size_ > 0 && !closed_) {
    if (!co_await wake_.wait(idle)) {
      conn_.reset(id_, NGHTTP2_CANCEL);
      co_return false;
    }
  }
  // All of it was taken, even when that closed the stream (the last DATA
  // ends a stream whose request had ended): what counts for the server
  // connection is that its response was read to the end.
  co_return out_size_ == 0;
}

awaitable<void> H2Stream::answer(const OwnAnswer& a) {
  own_body_.assign(a.body);
  own_body_ += '\n';
  H2Fields extra{{"content-type", "text/plain"},
                 {"content-length", std::to_string(own_body_.size())}};
  if (a.retry_after) extra.emplace_back("retry-after", std::to_string(*a.retry_after));
  out_ = own_body_.data();
  out_size_ = own_body_.size();
  out_eof_ = true;
  if (submit_head(a.status, nullptr, true, std::move(extra))) co_await drain();
  log_.status = static_cast<int>(a.status);
  log_.reason = a.reason;
  finish(a.counters ? *a.counters : conn_.h.unrouted());
}

void H2Stream::collect_trailers(const Fields& fields, const HeadFields& head) {
  for (const auto& f : fields) {
    if (std::binary_search(head.begin(), head.end(), static_cast<const void*>(&f))) continue;
    std::string name(f.name_string());
    for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (is_forbidden_trailer(name)) continue;
    trailers_out_.emplace_back(std::move(name), std::string(f.value()));
  }
}

void H2Stream::finish(HttpPoolCounters& counters) {
  const auto took = Clock::now() - log_.started;
  counters.count(log_.status, took);
  if (!access_log_enabled()) return;
  log_.connection = conn_.info.connection;
  log_.listener = conn_.h.listener().name;
  log_.client = conn_.info.text;
  log_.protocol = "h2";
  log_.tls_version = conn_.info.tls_version;
  log_.sni = conn_.info.sni;
  log_.duration = took;
  log_.method = method_;
  log_.path = path_;
  log_.host = host_;
  write_access_log(log_);
}

awaitable<void> H2Stream::run() {
  // Reset (or its connection gone) before it started, as in a rapid reset
  // where HEADERS and RST_STREAM come in one read: no server hears of it.
  if (closed_) co_return;
  if (too_large_) {
    conn_.count(H2Limit::header_size);
    co_await answer({431, "Request Header Fields Too Large",
                     "switchboard: request headers over max-header-size", "header-too-large", true,
                     nullptr});
    co_return;
  }
  bool fields_fit = true;
  try {
    for (const auto& [name, value] : fields_) req_.insert(name, value);
  } catch (const std::length_error&) {  // a field over Beast's 64 KiB
    fields_fit = false;
  }
  if (!fields_fit) {
    conn_.count(H2Limit::header_size);
    co_await answer({431, "Request Header Fields Too Large",
                     "switchboard: a request header field over 64 KiB", "header-too-large", true,
                     nullptr});
    co_return;
  }
  fields_.clear();
  // Routes match :authority, so the server must see the same name: a Host
  // field that says otherwise is replaced (RFC 9113 §8.3.1).
  host_ = authority_.empty() ? std::string(req_[bhttp::field::host]) : authority_;
  if (!authority_.empty()) req_.set(bhttp::field::host, authority_);
  const bhttp::verb method = bhttp::string_to_verb(method_);
  if (method == bhttp::verb::connect) {
    co_await answer({405, "Method Not Allowed", "switchboard: CONNECT is not served here",
                     "connect", true, nullptr});
    co_return;
  }
  if (host_.empty()) {
    co_await answer(
        {400, "Bad Request", "switchboard: a request needs one Host", "no-host", true, nullptr});
    co_return;
  }
  const auto route_index = conn_.h.routes().match(host_, path_);
  if (!route_index) {
    co_await answer(
        {404, "Not Found", "switchboard: no route for this request", "no-route", true, nullptr});
    co_return;
  }
  const RoutePool& route = conn_.h.route(*route_index);
  log_.pool = route.pool->config.name;

  Request request;
  request.fields = &req_;
  request.method = method;
  request.method_string = method_;
  request.target = path_;
  request.version = 11;
  request.host = host_;
  if (const auto cl = req_[bhttp::field::content_length]; !cl.empty()) {
    std::uint64_t length = 0;
    // nghttp2 checked that it is a number and that the DATA frames match it.
    std::from_chars(cl.data(), cl.data() + cl.size(), length);
    request.content_length = length;
    request.framing = length > 0 ? Framing::length : Framing::none;
  } else {
    request.framing = body_end_ && body_in_.empty() ? Framing::none : Framing::chunked;
  }
  request.expect_continue = beast::iequals(req_[bhttp::field::expect], "100-continue");
  if (request.expect_continue) req_.erase(bhttp::field::expect);
  request.keep_alive = true;

  Exchange exchange(conn_.worker, conn_.h, route, conn_.info, conn_.client.endpoints, request,
                    *this, log_, up_dog_, ubuf_);
  std::optional<ResponseParser> rparser;
  std::optional<Upstream> up;
  const Exchanged how = co_await exchange.run(rparser, up, nullptr);
  if (how == Exchanged::response) {
    const bool reusable = co_await respond(*rparser, *up, exchange);
    finish(*route.counters);
    count_server_bytes(conn_.worker, *up, log_);
    release_upstream(conn_.worker, *up, reusable);
  }
  co_await up_dog_.stop();
  // A body the client is still sending is not wanted any more: after a
  // whole response that is no error (RFC 9113 §8.1), without one the
  // request is cancelled.
  if (!body_end_ && !closed_) {
    conn_.reset(id_, responded_ ? NGHTTP2_NO_ERROR : NGHTTP2_CANCEL);
  }
}

// Passes the server's response on; true when its connection can serve
// another request.
awaitable<bool> H2Stream::respond(ResponseParser& rparser, Upstream& up, const Exchange& exchange) {
  auto& res = rparser.get();
  const unsigned status = res.result_int();
  log_.status = static_cast<int>(status);
  // Connection-oriented authentication cannot work over HTTP/2, where
  // requests of a connection go to many server connections: the client
  // is told to use HTTP/1.1 for this (RFC 9113 §8.2.2, as IIS does).
  if (exchange.auth_request() || demands_connection_auth(res)) {
    log_.reason = "http/1.1-required";
    log_.first_byte = {};  // the client gets no response: switchboard's answer
    conn_.reset(id_, NGHTTP2_HTTP_1_1_REQUIRED);
    co_return false;
  }
  if (status == 101) {  // nothing asked for an upgrade: a broken server
    log_.reason = "unexpected-101";
    log_.first_byte = {};
    conn_.reset(id_, NGHTTP2_INTERNAL_ERROR);
    co_return false;
  }
  const bool server_keep_alive = res.keep_alive();
  remove_hop_by_hop(res);
  set_affinity_cookie(res, conn_.h, up, exchange.preferred_server(), conn_.info.tls);
  const bool no_body =
      method_ == "HEAD" || status == 204 || status == 304 || (status >= 100 && status < 200);
  if (no_body) {
    submit_head(status, &res, false);
    co_return server_keep_alive&& up.buffer->size() == 0;
  }
  const bool until_close = !rparser.chunked() && !rparser.content_length().has_value();
  // Taken before the body is read: trailers join the same fields.
  const HeadFields head = rparser.chunked() ? head_fields(res) : HeadFields();
  out_eof_ = false;
  if (!submit_head(status, &res, true)) co_return false;
  chunk_.emplace(conn_.worker.buffers().acquire());
  const auto idle = conn_.h.listener().idle_timeout;
  while (!rparser.is_done()) {
    rparser.get().body().data = chunk_->data();
    rparser.get().body().size = kChunk;
    up_dog_.arm(idle);
    auto [ec, n] = co_await bhttp::async_read(up.stream, *up.buffer, rparser, use_nothrow);
    up_dog_.disarm();
    const bool ended = ec == bhttp::error::end_of_stream || (!ec && rparser.is_done());
    if (ec && ec != bhttp::error::need_buffer && !(until_close && ended)) {
      // The server failed mid-body: the client learns it by a reset.
      log_.reason = "server-reset-mid-body";
      conn_.reset(id_, NGHTTP2_INTERNAL_ERROR);
      co_return false;
    }
    const std::size_t got = kChunk - rparser.get().body().size;
    out_ = chunk_->data();
    out_size_ = got;
    if (rparser.is_done() || (until_close && ended)) {
      if (rparser.chunked()) collect_trailers(res, head);
      out_eof_ = true;
    }
    resume();
    if (out_size_ > 0 && !co_await drain()) co_return false;
    if (out_eof_) break;
  }
  if (!out_eof_) {
    out_eof_ = true;
    resume();
  }
  co_return !until_close && server_keep_alive && up.buffer->size() == 0;
}

}  // namespace

awaitable<void> serve_h2(Worker& worker, const HttpHandler& handler, AdmittedClient& client,
                         net::Stream& stream, const ClientInfo& info,
                         std::string_view already_read) {
  Connection connection(worker, handler, client, stream, info);
  co_await connection.run(already_read);
}

}  // namespace sb::runtime::http
