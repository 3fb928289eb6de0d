#pragma once
// HTTP/2's server side without sockets (docs/configuration.md, "HTTP/2"):
// an nghttp2 server session with switchboard's settings and limits. Client
// bytes go in, requests and their bodies come out as events, and what is
// to be sent comes out as bytes. h2_session.cpp drives it on a client
// connection; a fuzzer drives it with arbitrary bytes.
//
// Limits enforced here, each reported once through Handler::on_limit:
//   - SETTINGS_MAX_CONCURRENT_STREAMS; streams beyond it are refused;
//   - the header list size (`max-header-size`): the request is delivered
//     marked too large (its head dropped, not kept), for a 431;
//   - RST_STREAM frames per second (`max-resets-per-second`, rapid reset),
//     SETTINGS and PING frames per second: GOAWAY ENHANCE_YOUR_CALM;
//   - CONTINUATION frames per header block, and acknowledgements queued to
//     a client that does not read them (nghttp2's own limits);
//   - connection errors in the client's frames (GOAWAY PROTOCOL_ERROR ...).
// Flow control: the receive window opens only as the caller consume()s a
// stream's body, so that what the client sends is bounded by the window.

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "proxy/protocols/http/h2_limits.h"

struct nghttp2_session;

namespace sb::runtime::http {

using H2Fields = std::vector<std::pair<std::string, std::string>>;  // lower-case names

struct H2Settings {
  std::uint32_t max_concurrent_streams = 100;
  std::uint64_t initial_window_size = 1024 * 1024;
  std::uint64_t max_header_list_size = 64 * 1000;
  std::uint32_t max_resets_per_second = 100;
};

// A request's head as the client sent it.
struct H2RequestHead {
  std::string method;
  std::string path;
  std::string authority;
  std::string scheme;
  H2Fields fields;         // the regular ones; Cookie crumbs joined into one
  bool too_large = false;  // over max-header-size: fields are not kept
};

// A response body as nghttp2 asks for it.
class H2Body {
 public:
  virtual ~H2Body() = default;
  // Copies up to `max` bytes into `buf`: their count, or nullopt when none
  // is ready yet (the stream then waits for H2Codec::resume). `end`: the
  // body ends with these bytes.
  virtual std::optional<std::size_t> read(std::uint8_t* buf, std::size_t max, bool& end) = 0;
  // After the end: the trailers to send, if any.
  virtual H2Fields trailers() { return {}; }
};

class H2Codec {
 public:
  using Clock = std::chrono::steady_clock;

  // What the client's frames mean. Called from within receive().
  class Handler {
   public:
    virtual ~Handler() = default;
    // A request's head (HEADERS and any CONTINUATION); `end_stream`: it
    // has no body.
    virtual void on_request(std::int32_t id, H2RequestHead head, bool end_stream) = 0;
    virtual void on_data(std::int32_t id, std::string_view data) = 0;
    // The body's end, with the trailers the client sent after it.
    virtual void on_end_stream(std::int32_t id, H2Fields trailers) = 0;
    // The stream is gone (`code`: the error code of a reset, or 0).
    virtual void on_close(std::int32_t id, std::uint32_t code) = 0;
    virtual void on_limit(H2Limit limit) = 0;
  };

  H2Codec(const H2Settings& settings, Handler& handler);
  ~H2Codec();
  H2Codec(const H2Codec&) = delete;
  H2Codec& operator=(const H2Codec&) = delete;

  // Whether nghttp2 could be set up (false: out of memory).
  bool ok() const { return session_ != nullptr; }

  // The client's bytes. False when the connection must end: nothing more
  // is read, and what output() still gives (a GOAWAY) goes out first.
  bool receive(std::string_view bytes, Clock::time_point now = Clock::now());
  // Appends what is to be sent to `out`, until it holds about `max` bytes
  // or nothing is left. False when nghttp2 failed (the connection ends).
  bool output(std::string& out, std::size_t max);
  bool wants_read() const;
  bool wants_write() const;
  // Neither: the connection is over.
  bool ended() const { return !wants_read() && !wants_write(); }
  std::size_t open_streams() const { return streams_.size(); }

  // For a stream's response; false when the stream is gone.
  bool respond(std::int32_t id, unsigned status, const H2Fields& fields, H2Body* body);
  bool interim(std::int32_t id, unsigned status, const H2Fields& fields);
  // The body has more for nghttp2 to read.
  void resume(std::int32_t id);
  void reset(std::int32_t id, std::uint32_t code);
  // `n` bytes of the stream's body were sent on: the client may send as
  // many again. Bytes of a stream that is closed were given back already.
  void consume(std::int32_t id, std::size_t n);

  // Graceful: GOAWAY with the last stream started; streams in flight go on,
  // new ones are refused.
  void goaway();
  // GOAWAY with `code`, and the connection ends once it is sent.
  void terminate(std::uint32_t code);
  bool going_away() const { return going_away_; }

 private:
  struct Stream {
    H2RequestHead head;
    std::string cookies;
    H2Fields trailers;
    std::size_t header_bytes = 0;
    // DATA delivered and not yet consume()d: given back to the connection's
    // window when the stream closes, whatever the caller did with it.
    std::size_t unconsumed = 0;
    bool started = false;  // the head was delivered
    bool trailers_too_large = false;
  };

  void limit(H2Limit l);
  void fail(H2Limit l, std::uint32_t code);
  bool over_rate(int& count, int limit);
  Stream* stream(std::int32_t id);

  // nghttp2's callbacks (h2_codec.cpp).
  friend struct H2Callbacks;

  H2Settings settings_;
  Handler& handler_;
  nghttp2_session* session_ = nullptr;
  std::map<std::int32_t, Stream> streams_;
  Clock::time_point now_{};
  Clock::time_point window_start_{};
  int resets_ = 0;
  int settings_frames_ = 0;
  int pings_ = 0;
  bool counted_ = false;  // the connection's end is reported already
  bool refused_ = false;  // receive() failed: nothing more is read
  bool going_away_ = false;
};

}  // namespace sb::runtime::http
