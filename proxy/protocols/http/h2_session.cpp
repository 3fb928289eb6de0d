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
#include "proxy/protocols/http/http_handler.h"
#include "proxy/worker/worker.h"

namespace sb::runtime::http {
namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using Clock = std::chrono::steady_clock;

// Response body bytes moved per read from a server: one buffer per stream.
constexpr std::size_t kChunk = 16 * 1024;
// Bytes of frames gathered into one write to the client.
constexpr std::size_t kWriteBatch = 64 * 1024;
// SETTINGS or PING frames a client may send per second; more is a flood
// (nothing a browser or Outlook does comes near).
constexpr int kControlFramesPerSecond = 100;

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

std::string_view view(const std::uint8_t* p, std::size_t n) {
  return {reinterpret_cast<const char*>(p), n};
}

nghttp2_nv make_nv(std::string_view name, std::string_view value) {
  return {reinterpret_cast<std::uint8_t*>(const_cast<char*>(name.data())),
          reinterpret_cast<std::uint8_t*>(const_cast<char*>(value.data())), name.size(),
          value.size(), NGHTTP2_NV_FLAG_NONE};
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
class H2Stream final : public ClientSide {
 public:
  H2Stream(Connection& conn, std::int32_t id);

  awaitable<void> run();

  // Filled by the connection's nghttp2 callbacks.
  void on_header(std::string_view name, std::string_view value);
  void on_trailer(std::string_view name, std::string_view value);
  void on_data(const std::uint8_t* data, std::size_t len) {
    body_in_.append(reinterpret_cast<const char*>(data), len);
    wake_.notify();
  }
  void on_end_stream() {
    body_end_ = true;
    wake_.notify();
  }
  void on_close(std::uint32_t code) {
    closed_ = true;
    close_code_ = code;
    wake_.notify();
  }
  // nghttp2 asks for the next piece of the response body.
  ssize_t read_response(nghttp2_session* session, std::uint8_t* buf, std::size_t length,
                        std::uint32_t* flags);

  bool started = false;

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
  // Submits a response head (and the body through read_response when
  // `body`); false when the stream is gone.
  bool submit_head(unsigned status, const Fields* fields, bool body,
                   std::vector<std::pair<std::string, std::string>> extra = {});
  // Waits until nghttp2 took all of out_ (or the stream ended).
  awaitable<bool> drain();
  void finish(HttpPoolCounters& counters);
  // The fields a chunked response's parser added after `head`: its trailers.
  void collect_trailers(const Fields& fields, const HeadFields& head);

  Connection& conn_;
  std::int32_t id_;
  Signal wake_;
  bhttp::request<bhttp::empty_body> req_;
  std::string method_, path_, authority_, cookies_;
  std::size_t header_bytes_ = 0;
  bool too_large_ = false;
  std::string body_in_;  // DATA received, not yet sent on
  std::vector<std::pair<std::string, std::string>> trailers_in_;
  std::vector<std::pair<std::string, std::string>> trailers_out_;  // lower-case names
  bool body_end_ = false;
  bool closed_ = false;
  std::uint32_t close_code_ = 0;
  // The response body's piece waiting for nghttp2 to take it.
  const char* out_ = nullptr;
  std::size_t out_size_ = 0;
  bool out_eof_ = false;
  bool deferred_ = false;
  std::unique_ptr<char[]> chunk_;
  std::string own_body_;
  beast::flat_buffer ubuf_;
  tcp::socket no_server_;
  Watchdog up_dog_{no_server_};
  HttpAccessRecord log_;
  Clock::time_point started_at_ = Clock::now();
  std::string host_;
};

class Connection {
 public:
  Connection(Worker& worker, const HttpHandler& handler, AdmittedClient& client,
             net::Stream& stream, const ClientInfo& info)
      : worker(worker),
        h(handler),
        client(client),
        info(info),
        stream_(stream),
        dog_(stream.socket()),
        write_wake_(stream.get_executor()),
        streams_done_(stream.get_executor()),
        tick_(stream.get_executor()) {}

  ~Connection() {
    if (session_) nghttp2_session_del(session_);
  }

  awaitable<void> run(std::string_view already_read);

  // For streams.
  nghttp2_session* session() { return closed_ ? nullptr : session_; }
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
  bool setup();
  awaitable<void> read_loop();
  awaitable<void> write_loop();
  awaitable<void> tick_loop();
  bool feed(const char* data, std::size_t n);
  void fail(H2Limit limit, std::uint32_t code);
  bool winding_down() const {
    return worker.stopping() || client.listener->retired.load(std::memory_order_relaxed);
  }
  H2Stream* stream_of(std::int32_t id) {
    return static_cast<H2Stream*>(nghttp2_session_get_stream_user_data(session_, id));
  }
  // Counts a frame of a kind a flood is made of; true when more than
  // `limit` came within the current second.
  bool over_rate(int& count, int limit);

  static int on_begin_headers(nghttp2_session*, const nghttp2_frame* frame, void* self);
  static int on_header(nghttp2_session*, const nghttp2_frame* frame, const std::uint8_t* name,
                       std::size_t namelen, const std::uint8_t* value, std::size_t valuelen,
                       std::uint8_t flags, void* self);
  static int on_frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* self);
  static int on_data_chunk(nghttp2_session*, std::uint8_t flags, std::int32_t stream_id,
                           const std::uint8_t* data, std::size_t len, void* self);
  static int on_stream_close(nghttp2_session*, std::int32_t stream_id, std::uint32_t code,
                             void* self);
  static int on_frame_send(nghttp2_session*, const nghttp2_frame* frame, void* self);
  static int on_invalid_frame(nghttp2_session*, const nghttp2_frame* frame, int error, void* self);

  net::Stream& stream_;
  Watchdog dog_;
  nghttp2_session* session_ = nullptr;
  Signal write_wake_;
  Signal streams_done_;
  asio::steady_timer tick_;
  std::map<std::int32_t, std::shared_ptr<H2Stream>> streams_;
  int running_ = 0;  // stream coroutines not yet ended
  bool closed_ = false;
  bool goaway_sent_ = false;
  bool failed_ = false;
  bool counted_ = false;  // the connection's end is counted already
  Clock::time_point last_active_ = Clock::now();
  Clock::time_point window_start_ = Clock::now();
  int resets_ = 0;
  int settings_ = 0;
  int pings_ = 0;
  std::string out_;
};

// --- Connection -------------------------------------------------------------

bool Connection::setup() {
  nghttp2_session_callbacks* cb = nullptr;
  if (nghttp2_session_callbacks_new(&cb) != 0) return false;
  nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
  nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
  nghttp2_session_callbacks_set_on_frame_send_callback(cb, on_frame_send);
  nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(cb, on_invalid_frame);
  nghttp2_option* opt = nullptr;
  if (nghttp2_option_new(&opt) != 0) {
    nghttp2_session_callbacks_del(cb);
    return false;
  }
  const auto& h2 = h.http().h2;
  // The window opens as bytes leave for the server (send_body), not as
  // they arrive: a slow server slows the client instead of filling memory.
  nghttp2_option_set_no_auto_window_update(opt, 1);
  nghttp2_option_set_max_continuations(opt, 8);
  nghttp2_option_set_max_outbound_ack(opt, 1000);
  nghttp2_option_set_max_settings(opt, 32);
  nghttp2_option_set_stream_reset_rate_limit(opt, 2ull * h2.max_resets_per_second,
                                             h2.max_resets_per_second);
  nghttp2_option_set_max_deflate_dynamic_table_size(opt, 4096);
  const int rv = nghttp2_session_server_new2(&session_, cb, this, opt);
  nghttp2_option_del(opt);
  nghttp2_session_callbacks_del(cb);
  if (rv != 0) return false;
  const auto window = static_cast<std::uint32_t>(
      std::min<std::uint64_t>(h2.initial_window_size, NGHTTP2_MAX_WINDOW_SIZE));
  const auto header_list =
      static_cast<std::uint32_t>(std::min<std::uint64_t>(h.http().max_header_size, 1u << 24));
  const nghttp2_settings_entry settings[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, h2.max_concurrent_streams},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, window},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, header_list},
      {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
  };
  if (nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings, std::size(settings)) != 0) {
    return false;
  }
  // The connection's window: as large as one stream's, so that one stream
  // can use its whole window; memory is bounded by what is unsent.
  nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0,
                                        static_cast<std::int32_t>(window));
  return true;
}

awaitable<void> Connection::run(std::string_view already_read) {
  if (!setup()) {
    spdlog::error("listener {}: HTTP/2 session could not be set up", h.listener().name);
    co_return;
  }
  if (!already_read.empty()) feed(already_read.data(), already_read.size());
  co_await (read_loop() && write_loop() && tick_loop());
  // The connection is over: every stream still running learns it and ends.
  closed_ = true;
  for (auto& [id, s] : streams_) s->on_close(NGHTTP2_CANCEL);
  streams_.clear();
  while (running_ > 0) co_await streams_done_.wait(std::chrono::seconds(1));
  co_await dog_.stop();
}

bool Connection::feed(const char* data, std::size_t n) {
  const auto rv =
      nghttp2_session_mem_recv(session_, reinterpret_cast<const std::uint8_t*>(data), n);
  if (rv < 0) {
    switch (counted_ ? 0 : rv) {
      case 0:
        break;
      case NGHTTP2_ERR_FLOODED:
        count(settings_ >= pings_ ? H2Limit::settings_flood : H2Limit::ping_flood);
        break;
      case NGHTTP2_ERR_TOO_MANY_CONTINUATIONS:
        count(H2Limit::continuation);
        break;
      default:
        count(H2Limit::protocol);
        break;
    }
    spdlog::debug("listener {}: HTTP/2 client {}: {}", h.listener().name, info.text,
                  nghttp2_strerror(static_cast<int>(rv)));
    counted_ = true;
    failed_ = true;
    want_write();
    return false;
  }
  want_write();
  return true;
}

void Connection::fail(H2Limit limit, std::uint32_t code) {
  if (!counted_) count(limit);
  counted_ = true;
  nghttp2_session_terminate_session(session_, code);
  want_write();
}

awaitable<void> Connection::read_loop() {
  std::unique_ptr<char[]> buf(new char[kChunk]);
  while (!failed_ && nghttp2_session_want_read(session_)) {
    auto [ec, n] = co_await stream_.async_read_some(asio::buffer(buf.get(), kChunk), use_nothrow);
    if (ec) break;
    if (!feed(buf.get(), n)) break;
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
    while (out_.size() < kWriteBatch) {
      const std::uint8_t* data = nullptr;
      const auto n = nghttp2_session_mem_send(session_, &data);
      if (n <= 0) break;
      out_.append(reinterpret_cast<const char*>(data), static_cast<std::size_t>(n));
    }
    if (!out_.empty()) {
      dog_.arm(h.listener().idle_timeout);
      auto [ec, n] = co_await asio::async_write(stream_, asio::buffer(out_), use_nothrow);
      dog_.disarm();
      if (ec) break;
      continue;
    }
    const bool done = !nghttp2_session_want_read(session_) && !nghttp2_session_want_write(session_);
    if (done || failed_) break;
    if (goaway_sent_ && streams_.empty()) break;
    co_await write_wake_.wait(std::chrono::hours(24));
  }
  // Ends the read loop too.
  failed_ = true;
  error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
  tick_.cancel();
}

// Once a second: the per-second rates start again, a connection without
// streams for request-timeout is closed, and a stop or a reload sends
// GOAWAY (streams in flight finish; new ones are refused).
awaitable<void> Connection::tick_loop() {
  while (!failed_) {
    tick_.expires_after(std::chrono::seconds(1));
    co_await tick_.async_wait(use_nothrow);
    if (failed_) break;
    const auto now = Clock::now();
    if (!goaway_sent_ && winding_down()) {
      nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE,
                            nghttp2_session_get_last_proc_stream_id(session_), NGHTTP2_NO_ERROR,
                            nullptr, 0);
      goaway_sent_ = true;
      want_write();
    }
    if (streams_.empty() && running_ == 0 && now - last_active_ >= h.http().request_timeout) {
      count(H2Limit::idle_timeout);
      nghttp2_session_terminate_session(session_, NGHTTP2_NO_ERROR);
      goaway_sent_ = true;
      want_write();
    }
  }
}

bool Connection::over_rate(int& count, int limit) {
  const auto now = Clock::now();
  if (now - window_start_ >= std::chrono::seconds(1)) {
    window_start_ = now;
    resets_ = settings_ = pings_ = 0;
  }
  return ++count > limit;
}

int Connection::on_begin_headers(nghttp2_session* session, const nghttp2_frame* frame, void* self) {
  auto& c = *static_cast<Connection*>(self);
  if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
  if (c.goaway_sent_) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  auto s = std::make_shared<H2Stream>(c, frame->hd.stream_id);
  nghttp2_session_set_stream_user_data(session, frame->hd.stream_id, s.get());
  c.streams_.emplace(frame->hd.stream_id, std::move(s));
  c.last_active_ = Clock::now();
  return 0;
}

int Connection::on_header(nghttp2_session*, const nghttp2_frame* frame, const std::uint8_t* name,
                          std::size_t namelen, const std::uint8_t* value, std::size_t valuelen,
                          std::uint8_t, void* self) {
  auto& c = *static_cast<Connection*>(self);
  if (frame->hd.type != NGHTTP2_HEADERS) return 0;
  H2Stream* s = c.stream_of(frame->hd.stream_id);
  if (!s) return 0;
  if (s->started) {
    s->on_trailer(view(name, namelen), view(value, valuelen));
  } else {
    s->on_header(view(name, namelen), view(value, valuelen));
  }
  return 0;
}

int Connection::on_frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* self) {
  auto& c = *static_cast<Connection*>(self);
  switch (frame->hd.type) {
    case NGHTTP2_HEADERS:
    case NGHTTP2_DATA: {
      H2Stream* s = c.stream_of(frame->hd.stream_id);
      if (!s) break;
      if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) s->on_end_stream();
      if (frame->hd.type == NGHTTP2_HEADERS && !s->started) {
        s->started = true;
        ++c.running_;
        auto held = c.streams_.at(frame->hd.stream_id);
        asio::co_spawn(
            c.stream_.get_executor(),
            [held, &c]() -> awaitable<void> {
              try {
                co_await held->run();
              } catch (const std::exception& e) {
                spdlog::error("listener {}: HTTP/2 stream failed: {}", c.h.listener().name,
                              e.what());
              }
              c.stream_ended();
            },
            asio::detached);
      }
      break;
    }
    case NGHTTP2_RST_STREAM:
      // Rapid reset (CVE-2023-44487): streams opened and reset at once
      // cost the proxy a server request each and the client nothing.
      if (c.over_rate(c.resets_, static_cast<int>(c.h.http().h2.max_resets_per_second))) {
        c.fail(H2Limit::resets, NGHTTP2_ENHANCE_YOUR_CALM);
      }
      break;
    case NGHTTP2_SETTINGS:
      if (!(frame->hd.flags & NGHTTP2_FLAG_ACK) &&
          c.over_rate(c.settings_, kControlFramesPerSecond)) {
        c.fail(H2Limit::settings_flood, NGHTTP2_ENHANCE_YOUR_CALM);
      }
      break;
    case NGHTTP2_PING:
      if (!(frame->hd.flags & NGHTTP2_FLAG_ACK) && c.over_rate(c.pings_, kControlFramesPerSecond)) {
        c.fail(H2Limit::ping_flood, NGHTTP2_ENHANCE_YOUR_CALM);
      }
      break;
    default:
      break;
  }
  return 0;
}

int Connection::on_data_chunk(nghttp2_session*, std::uint8_t, std::int32_t stream_id,
                              const std::uint8_t* data, std::size_t len, void* self) {
  auto& c = *static_cast<Connection*>(self);
  if (H2Stream* s = c.stream_of(stream_id)) {
    s->on_data(data, len);
  } else {
    // A stream that is gone: its bytes are dropped, and the connection's
    // window opens again for them.
    nghttp2_session_consume_connection(c.session_, len);
  }
  return 0;
}

int Connection::on_stream_close(nghttp2_session*, std::int32_t stream_id, std::uint32_t code,
                                void* self) {
  auto& c = *static_cast<Connection*>(self);
  const auto it = c.streams_.find(stream_id);
  if (it == c.streams_.end()) return 0;
  it->second->on_close(code);
  c.streams_.erase(it);
  c.last_active_ = Clock::now();
  return 0;
}

int Connection::on_frame_send(nghttp2_session*, const nghttp2_frame* frame, void* self) {
  auto& c = *static_cast<Connection*>(self);
  // A connection error nghttp2 found in a frame itself (DATA on stream 0,
  // a bad SETTINGS value, ...): its GOAWAY is the only sign of it.
  if (frame->hd.type == NGHTTP2_GOAWAY && frame->goaway.error_code != NGHTTP2_NO_ERROR &&
      !c.counted_) {
    c.counted_ = true;
    c.count(H2Limit::protocol);
  }
  if (frame->hd.type == NGHTTP2_RST_STREAM &&
      frame->rst_stream.error_code == NGHTTP2_REFUSED_STREAM && !c.goaway_sent_) {
    c.count(H2Limit::concurrent_streams);
  }
  return 0;
}

int Connection::on_invalid_frame(nghttp2_session*, const nghttp2_frame* frame, int error,
                                 void* self) {
  auto& c = *static_cast<Connection*>(self);
  spdlog::debug("listener {}: HTTP/2 client {}: invalid frame {} on stream {}: {}",
                c.h.listener().name, c.info.text, frame->hd.type, frame->hd.stream_id,
                nghttp2_strerror(error));
  return 0;
}

// --- H2Stream ---------------------------------------------------------------

H2Stream::H2Stream(Connection& conn, std::int32_t id)
    : conn_(conn), id_(id), wake_(conn.worker.io().get_executor()), no_server_(conn.worker.io()) {}

void H2Stream::on_header(std::string_view name, std::string_view value) {
  header_bytes_ += name.size() + value.size() + 32;  // RFC 9113 §6.5.2's size
  if (header_bytes_ > conn_.h.http().max_header_size) {
    too_large_ = true;
    return;
  }
  if (too_large_) return;
  if (!name.empty() && name.front() == ':') {
    if (name == ":method") {
      method_ = value;
    } else if (name == ":path") {
      path_ = value;
    } else if (name == ":authority") {
      authority_ = value;
    }
    return;
  }
  if (name == "cookie") {
    // HTTP/2 may split cookies; HTTP/1.1 has one Cookie line (RFC 9113
    // §8.2.3).
    if (!cookies_.empty()) cookies_ += "; ";
    cookies_.append(value);
    return;
  }
  req_.insert(name, value);
}

void H2Stream::on_trailer(std::string_view name, std::string_view value) {
  header_bytes_ += name.size() + value.size() + 32;
  if (header_bytes_ > conn_.h.http().max_header_size) return;  // dropped, not buffered
  trailers_in_.emplace_back(name, value);
}

awaitable<bool> H2Stream::wait_for_body() {
  const auto idle = conn_.h.listener().idle_timeout;
  while (body_in_.empty() && !body_end_ && !closed_) {
    if (!co_await wake_.wait(idle)) co_return false;
  }
  co_return !closed_ || !body_in_.empty();
}

awaitable<bool> H2Stream::send_continue() {
  nghttp2_session* s = conn_.session();
  if (!s || closed_) co_return false;
  const nghttp2_nv nv[] = {make_nv(":status", "100")};
  nghttp2_submit_headers(s, NGHTTP2_FLAG_NONE, id_, nullptr, nv, 1, nullptr);
  conn_.want_write();
  co_return true;
}

awaitable<bool> H2Stream::read_whole_body(std::string& out, std::uint64_t limit) {
  for (;;) {
    if (!co_await wait_for_body()) co_return false;
    if (out.size() + body_in_.size() > limit) co_return false;
    out += body_in_;
    if (nghttp2_session* s = conn_.session()) {
      nghttp2_session_consume(s, id_, body_in_.size());
      conn_.want_write();
    }
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
      if (nghttp2_session* s = conn_.session()) {
        nghttp2_session_consume(s, id_, n);
        conn_.want_write();
      }
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
  nghttp2_session* s = conn_.session();
  if (!s || closed_) co_return false;
  const std::string status = std::to_string(interim.result_int());
  std::vector<nghttp2_nv> nv{make_nv(":status", status)};
  std::vector<std::string> names;
  names.reserve(std::distance(interim.begin(), interim.end()));
  for (const auto& f : interim) {
    std::string name(f.name_string());
    for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    names.push_back(std::move(name));
    nv.push_back(make_nv(names.back(), f.value()));
  }
  nghttp2_submit_headers(s, NGHTTP2_FLAG_NONE, id_, nullptr, nv.data(), nv.size(), nullptr);
  conn_.want_write();
  co_return true;
}

bool H2Stream::submit_head(unsigned status, const Fields* fields, bool body,
                           std::vector<std::pair<std::string, std::string>> extra) {
  nghttp2_session* s = conn_.session();
  if (!s || closed_) return false;
  const std::string code = std::to_string(status);
  std::vector<nghttp2_nv> nv{make_nv(":status", code)};
  std::vector<std::string> names;
  if (fields) {
    names.reserve(std::distance(fields->begin(), fields->end()));
    for (const auto& f : *fields) {
      std::string name(f.name_string());
      for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      names.push_back(std::move(name));
      nv.push_back(make_nv(names.back(), f.value()));
    }
  }
  for (const auto& [name, value] : extra) nv.push_back(make_nv(name, value));
  nghttp2_data_provider provider{};
  provider.source.ptr = this;
  provider.read_callback = [](nghttp2_session* session, std::int32_t, std::uint8_t* buf,
                              std::size_t length, std::uint32_t* flags, nghttp2_data_source* src,
                              void*) -> ssize_t {
    return static_cast<H2Stream*>(src->ptr)->read_response(session, buf, length, flags);
  };
  const int rv = nghttp2_submit_response(s, id_, nv.data(), nv.size(), body ? &provider : nullptr);
  conn_.want_write();
  return rv == 0;
}

ssize_t H2Stream::read_response(nghttp2_session* session, std::uint8_t* buf, std::size_t length,
                                std::uint32_t* flags) {
  const auto end = [&] {
    *flags |= NGHTTP2_DATA_FLAG_EOF;
    if (trailers_out_.empty()) return;
    // The server's trailers end the stream instead of the last DATA.
    std::vector<nghttp2_nv> nv;
    for (const auto& [name, value] : trailers_out_) nv.push_back(make_nv(name, value));
    if (nghttp2_submit_trailer(session, id_, nv.data(), nv.size()) == 0) {
      *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
    }
  };
  if (out_size_ == 0) {
    if (out_eof_) {
      end();
      return 0;
    }
    deferred_ = true;
    wake_.notify();  // drained: the stream reads the next piece
    return NGHTTP2_ERR_DEFERRED;
  }
  const std::size_t n = std::min(length, out_size_);
  std::memcpy(buf, out_, n);
  out_ += n;
  out_size_ -= n;
  log_.bytes_out += n;
  if (out_size_ == 0) {
    if (out_eof_) end();
    wake_.notify();
  }
  return static_cast<ssize_t>(n);
}

awaitable<bool> H2Stream::drain() {
  // The client's window decides how fast this goes: a client that never
  // opens it is given idle-timeout, then the stream is reset.
  const auto idle = conn_.h.listener().idle_timeout;
  while (out_size_ > 0 && !closed_) {
    if (!co_await wake_.wait(idle)) {
      if (nghttp2_session* s = conn_.session()) {
        nghttp2_submit_rst_stream(s, NGHTTP2_FLAG_NONE, id_, NGHTTP2_CANCEL);
        conn_.want_write();
      }
      co_return false;
    }
  }
  co_return !closed_;
}

awaitable<void> H2Stream::answer(const OwnAnswer& a) {
  own_body_.assign(a.body);
  own_body_ += '\n';
  std::vector<std::pair<std::string, std::string>> extra{
      {"content-type", "text/plain"}, {"content-length", std::to_string(own_body_.size())}};
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
  const auto took = Clock::now() - started_at_;
  counters.count(log_.status, took);
  if (!access_log_enabled()) return;
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
  chunk_.reset(new char[kChunk]);
  if (too_large_) {
    conn_.count(H2Limit::header_size);
    co_await answer({431, "Request Header Fields Too Large",
                     "switchboard: request headers over max-header-size", "header-too-large", true,
                     nullptr});
    co_return;
  }
  host_ = authority_.empty() ? std::string(req_[bhttp::field::host]) : authority_;
  if (!authority_.empty() && req_.count(bhttp::field::host) == 0) {
    req_.set(bhttp::field::host, authority_);
  }
  if (!cookies_.empty()) req_.set(bhttp::field::cookie, cookies_);
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
  // A body the client is still sending is not wanted any more.
  if (!body_end_ && !closed_) {
    if (nghttp2_session* s = conn_.session()) {
      nghttp2_submit_rst_stream(s, NGHTTP2_FLAG_NONE, id_, NGHTTP2_NO_ERROR);
      conn_.want_write();
    }
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
    if (nghttp2_session* s = conn_.session()) {
      nghttp2_submit_rst_stream(s, NGHTTP2_FLAG_NONE, id_, NGHTTP2_HTTP_1_1_REQUIRED);
      conn_.want_write();
    }
    co_return false;
  }
  if (status == 101) {  // nothing asked for an upgrade: a broken server
    log_.reason = "unexpected-101";
    if (nghttp2_session* s = conn_.session()) {
      nghttp2_submit_rst_stream(s, NGHTTP2_FLAG_NONE, id_, NGHTTP2_INTERNAL_ERROR);
      conn_.want_write();
    }
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
  const auto idle = conn_.h.listener().idle_timeout;
  while (!rparser.is_done()) {
    rparser.get().body().data = chunk_.get();
    rparser.get().body().size = kChunk;
    up_dog_.arm(idle);
    auto [ec, n] = co_await bhttp::async_read(up.stream, *up.buffer, rparser, use_nothrow);
    up_dog_.disarm();
    const bool ended = ec == bhttp::error::end_of_stream || (!ec && rparser.is_done());
    if (ec && ec != bhttp::error::need_buffer && !(until_close && ended)) {
      // The server failed mid-body: the client learns it by a reset.
      log_.reason = "server-reset-mid-body";
      if (nghttp2_session* s = conn_.session()) {
        nghttp2_submit_rst_stream(s, NGHTTP2_FLAG_NONE, id_, NGHTTP2_INTERNAL_ERROR);
        conn_.want_write();
      }
      co_return false;
    }
    const std::size_t got = kChunk - rparser.get().body().size;
    out_ = chunk_.get();
    out_size_ = got;
    if (rparser.is_done() || (until_close && ended)) {
      if (rparser.chunked()) collect_trailers(res, head);
      out_eof_ = true;
    }
    if (deferred_) {
      deferred_ = false;
      if (nghttp2_session* s = conn_.session()) nghttp2_session_resume_data(s, id_);
    }
    conn_.want_write();
    if (out_size_ > 0 && !co_await drain()) co_return false;
    if (out_eof_) break;
  }
  if (!out_eof_) {
    out_eof_ = true;
    if (deferred_) {
      deferred_ = false;
      if (nghttp2_session* s = conn_.session()) nghttp2_session_resume_data(s, id_);
    }
    conn_.want_write();
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
