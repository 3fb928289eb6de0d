#include "proxy/protocols/http/h2_codec.h"

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <cctype>
#include <cstring>

namespace sb::runtime::http {
namespace {

// SETTINGS or PING frames a client may send per second; more is a flood
// (nothing a browser or Outlook does comes near).
constexpr int kControlFramesPerSecond = 100;

std::string_view view(const std::uint8_t* p, std::size_t n) {
  return {reinterpret_cast<const char*>(p), n};
}

nghttp2_nv make_nv(std::string_view name, std::string_view value) {
  return {reinterpret_cast<std::uint8_t*>(const_cast<char*>(name.data())),
          reinterpret_cast<std::uint8_t*>(const_cast<char*>(value.data())), name.size(),
          value.size(), NGHTTP2_NV_FLAG_NONE};
}

std::vector<nghttp2_nv> make_nvs(const std::string& status, const H2Fields& fields) {
  std::vector<nghttp2_nv> nv;
  nv.reserve(fields.size() + 1);
  nv.push_back(make_nv(":status", status));
  for (const auto& [name, value] : fields) nv.push_back(make_nv(name, value));
  return nv;
}

}  // namespace

struct H2Callbacks {
  static H2Codec& codec(void* self) { return *static_cast<H2Codec*>(self); }

  // Runs one of the handler's calls. An exception must not unwind through
  // nghttp2's C frames: it fails the session instead (receive() says so).
  template <typename F>
  static int guarded(F&& call) {
    try {
      call();
      return 0;
    } catch (...) {
      return NGHTTP2_ERR_CALLBACK_FAILURE;
    }
  }

  static int on_begin_headers(nghttp2_session*, const nghttp2_frame* frame, void* self) {
    H2Codec& c = codec(self);
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
    // After our GOAWAY (before it went out; after, nghttp2 ignores new
    // streams itself): refused, and not delivered, so that a client that
    // takes the GOAWAY's last stream id at its word may send it elsewhere.
    if (c.going_away_) {
      nghttp2_submit_rst_stream(c.session_, NGHTTP2_FLAG_NONE, frame->hd.stream_id,
                                NGHTTP2_REFUSED_STREAM);
      return 0;
    }
    c.streams_.try_emplace(frame->hd.stream_id);
    return 0;
  }

  static int on_header(nghttp2_session*, const nghttp2_frame* frame, const std::uint8_t* name_p,
                       std::size_t namelen, const std::uint8_t* value_p, std::size_t valuelen,
                       std::uint8_t, void* self) {
    H2Codec& c = codec(self);
    if (frame->hd.type != NGHTTP2_HEADERS) return 0;
    H2Codec::Stream* s = c.stream(frame->hd.stream_id);
    if (!s) return 0;
    const std::string_view name = view(name_p, namelen);
    const std::string_view value = view(value_p, valuelen);
    // RFC 9113 §6.5.2's size of a field; trailers count with the head.
    s->header_bytes += namelen + valuelen + 32;
    const bool too_large = s->header_bytes > c.settings_.max_header_list_size;
    if (s->started) {
      // Trailers over the budget are dropped whole, not cut.
      if (too_large) {
        s->trailers.clear();
        s->trailers_too_large = true;
      } else if (!s->trailers_too_large) {
        s->trailers.emplace_back(name, value);
      }
      return 0;
    }
    H2RequestHead& head = s->head;
    if (too_large && !head.too_large) {
      head.too_large = true;
      head.fields.clear();
      head.fields.shrink_to_fit();
      s->cookies.clear();
    }
    if (head.too_large) return 0;
    if (!name.empty() && name.front() == ':') {
      if (name == ":method") {
        head.method = value;
      } else if (name == ":path") {
        head.path = value;
      } else if (name == ":authority") {
        head.authority = value;
      } else if (name == ":scheme") {
        head.scheme = value;
      }
    } else if (name == "cookie") {
      // HTTP/2 may split cookies; HTTP/1.1 has one Cookie line (RFC 9113
      // §8.2.3).
      if (!s->cookies.empty()) s->cookies += "; ";
      s->cookies.append(value);
    } else {
      head.fields.emplace_back(name, value);
    }
    return 0;
  }

  static int on_frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* self) {
    H2Codec& c = codec(self);
    const bool end_stream = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
    switch (frame->hd.type) {
      case NGHTTP2_HEADERS: {
        H2Codec::Stream* s = c.stream(frame->hd.stream_id);
        if (!s) break;
        if (!s->started) {
          s->started = true;
          if (!s->cookies.empty()) {
            s->head.fields.emplace_back("cookie", std::move(s->cookies));
            s->cookies.clear();
          }
          return guarded(
              [&] { c.handler_.on_request(frame->hd.stream_id, std::move(s->head), end_stream); });
        }
        if (end_stream) {
          return guarded(
              [&] { c.handler_.on_end_stream(frame->hd.stream_id, std::move(s->trailers)); });
        }
        break;
      }
      case NGHTTP2_DATA:
        if (end_stream && c.stream(frame->hd.stream_id)) {
          return guarded([&] { c.handler_.on_end_stream(frame->hd.stream_id, {}); });
        }
        break;
      case NGHTTP2_RST_STREAM:
        // Rapid reset (CVE-2023-44487): streams opened and reset at once
        // cost the proxy a server request each and the client nothing.
        if (c.over_rate(c.resets_, static_cast<int>(c.settings_.max_resets_per_second))) {
          c.fail(H2Limit::resets, NGHTTP2_ENHANCE_YOUR_CALM);
        }
        break;
      case NGHTTP2_SETTINGS:
        if (!(frame->hd.flags & NGHTTP2_FLAG_ACK) &&
            c.over_rate(c.settings_frames_, kControlFramesPerSecond)) {
          c.fail(H2Limit::settings_flood, NGHTTP2_ENHANCE_YOUR_CALM);
        }
        break;
      case NGHTTP2_PING:
        if (!(frame->hd.flags & NGHTTP2_FLAG_ACK) &&
            c.over_rate(c.pings_, kControlFramesPerSecond)) {
          c.fail(H2Limit::ping_flood, NGHTTP2_ENHANCE_YOUR_CALM);
        }
        break;
      default:
        break;
    }
    return 0;
  }

  static int on_data_chunk(nghttp2_session* session, std::uint8_t, std::int32_t stream_id,
                           const std::uint8_t* data, std::size_t len, void* self) {
    H2Codec& c = codec(self);
    H2Codec::Stream* s = c.stream(stream_id);
    if (s && s->started) {
      s->unconsumed += len;
      return guarded([&] { c.handler_.on_data(stream_id, view(data, len)); });
    } else {
      // A stream that is gone: its bytes are dropped, and the connection's
      // window opens again for them.
      nghttp2_session_consume_connection(session, len);
    }
    return 0;
  }

  static int on_stream_close(nghttp2_session* session, std::int32_t stream_id, std::uint32_t code,
                             void* self) {
    H2Codec& c = codec(self);
    const auto it = c.streams_.find(stream_id);
    if (it == c.streams_.end()) return 0;
    const bool started = it->second.started;
    // What the client sent that was never passed on (an early answer, a
    // reset) goes back to the connection's window: else every such stream
    // would shrink it for the connection's other streams for good.
    if (it->second.unconsumed > 0) {
      nghttp2_session_consume_connection(session, it->second.unconsumed);
    }
    c.streams_.erase(it);
    if (started) return guarded([&] { c.handler_.on_close(stream_id, code); });
    return 0;
  }

  static int on_frame_send(nghttp2_session*, const nghttp2_frame* frame, void* self) {
    H2Codec& c = codec(self);
    // A connection error nghttp2 found in a frame itself (DATA on stream
    // 0, a bad SETTINGS value, ...): its GOAWAY is the only sign of it.
    if (frame->hd.type == NGHTTP2_GOAWAY && frame->goaway.error_code != NGHTTP2_NO_ERROR &&
        !c.counted_) {
      c.counted_ = true;
      c.limit(H2Limit::protocol);
    }
    return 0;
  }

  // A stream over SETTINGS_MAX_CONCURRENT_STREAMS: refused (RST_STREAM)
  // while the setting is unacknowledged, a connection error (GOAWAY) after;
  // either way it is that limit, not some other protocol error.
  static int on_invalid_frame(nghttp2_session*, const nghttp2_frame* frame, int error, void* self) {
    H2Codec& c = codec(self);
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST ||
        c.going_away_ || c.streams_.count(frame->hd.stream_id) ||
        c.streams_.size() < c.settings_.max_concurrent_streams) {
      return 0;
    }
    if (error == NGHTTP2_ERR_REFUSED_STREAM) {
      c.limit(H2Limit::concurrent_streams);
    } else if (!c.counted_) {
      c.counted_ = true;
      c.limit(H2Limit::concurrent_streams);
    }
    return 0;
  }

  static ssize_t read_body(nghttp2_session* session, std::int32_t stream_id, std::uint8_t* buf,
                           std::size_t length, std::uint32_t* flags, nghttp2_data_source* source,
                           void*) {
    auto* body = static_cast<H2Body*>(source->ptr);
    bool end = false;
    const auto n = body->read(buf, length, end);
    if (!n) return NGHTTP2_ERR_DEFERRED;
    if (end) {
      *flags |= NGHTTP2_DATA_FLAG_EOF;
      const H2Fields trailers = body->trailers();
      if (!trailers.empty()) {
        std::vector<nghttp2_nv> nv;
        for (const auto& [name, value] : trailers) nv.push_back(make_nv(name, value));
        // The trailers end the stream instead of the last DATA frame.
        if (nghttp2_submit_trailer(session, stream_id, nv.data(), nv.size()) == 0) {
          *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
        }
      }
    }
    return static_cast<ssize_t>(*n);
  }
};

H2Codec::H2Codec(const H2Settings& settings, Handler& handler)
    : settings_(settings), handler_(handler) {
  nghttp2_session_callbacks* cb = nullptr;
  if (nghttp2_session_callbacks_new(&cb) != 0) return;
  nghttp2_session_callbacks_set_on_begin_headers_callback(cb, H2Callbacks::on_begin_headers);
  nghttp2_session_callbacks_set_on_header_callback(cb, H2Callbacks::on_header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cb, H2Callbacks::on_frame_recv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, H2Callbacks::on_data_chunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(cb, H2Callbacks::on_stream_close);
  nghttp2_session_callbacks_set_on_frame_send_callback(cb, H2Callbacks::on_frame_send);
  nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(cb, H2Callbacks::on_invalid_frame);
  nghttp2_option* opt = nullptr;
  if (nghttp2_option_new(&opt) != 0) {
    nghttp2_session_callbacks_del(cb);
    return;
  }
  // The window opens as the caller consumes, not as bytes arrive.
  nghttp2_option_set_no_auto_window_update(opt, 1);
  nghttp2_option_set_max_continuations(opt, 8);
  nghttp2_option_set_max_outbound_ack(opt, 1000);
  nghttp2_option_set_max_settings(opt, 32);
  // Resets are bounded by our own count (max_resets_per_second, on the
  // caller's clock, counted as `resets`); nghttp2's bound stays above it.
  nghttp2_option_set_stream_reset_rate_limit(opt, 1u << 20, 1u << 20);
  nghttp2_option_set_max_deflate_dynamic_table_size(opt, 4096);
  const int rv = nghttp2_session_server_new2(&session_, cb, this, opt);
  nghttp2_option_del(opt);
  nghttp2_session_callbacks_del(cb);
  if (rv != 0) {
    session_ = nullptr;
    return;
  }
  const auto window = static_cast<std::uint32_t>(
      std::min<std::uint64_t>(settings_.initial_window_size, NGHTTP2_MAX_WINDOW_SIZE));
  const auto header_list =
      static_cast<std::uint32_t>(std::min<std::uint64_t>(settings_.max_header_list_size, 1u << 24));
  const nghttp2_settings_entry entries[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, settings_.max_concurrent_streams},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, window},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, header_list},
      {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
  };
  nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, entries, std::size(entries));
  // The connection's window: as large as one stream's, so that a single
  // stream can use its whole window.
  nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0,
                                        static_cast<std::int32_t>(window));
}

H2Codec::~H2Codec() {
  if (session_) nghttp2_session_del(session_);
}

H2Codec::Stream* H2Codec::stream(std::int32_t id) {
  const auto it = streams_.find(id);
  return it == streams_.end() ? nullptr : &it->second;
}

void H2Codec::limit(H2Limit l) {
  handler_.on_limit(l);
}

void H2Codec::fail(H2Limit l, std::uint32_t code) {
  if (!counted_) limit(l);
  counted_ = true;
  nghttp2_session_terminate_session(session_, code);
}

bool H2Codec::over_rate(int& count, int limit) {
  if (now_ - window_start_ >= std::chrono::seconds(1)) {
    window_start_ = now_;
    resets_ = settings_frames_ = pings_ = 0;
  }
  return ++count > limit;
}

bool H2Codec::receive(std::string_view bytes, Clock::time_point now) {
  now_ = now;
  const auto rv = nghttp2_session_mem_recv(
      session_, reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  if (rv >= 0) return true;
  refused_ = true;
  if (!counted_ && rv != NGHTTP2_ERR_CALLBACK_FAILURE) {
    switch (rv) {
      case NGHTTP2_ERR_FLOODED:
        limit(settings_frames_ >= pings_ ? H2Limit::settings_flood : H2Limit::ping_flood);
        break;
      case NGHTTP2_ERR_TOO_MANY_CONTINUATIONS:
        limit(H2Limit::continuation);
        break;
      default:
        limit(H2Limit::protocol);
        break;
    }
    counted_ = true;
  }
  // A fatal error leaves the session unusable; a bad client magic or a
  // flood is answered with GOAWAY first where nghttp2 still can.
  if (rv == NGHTTP2_ERR_BAD_CLIENT_MAGIC || rv == NGHTTP2_ERR_FLOODED ||
      rv == NGHTTP2_ERR_TOO_MANY_CONTINUATIONS) {
    nghttp2_session_terminate_session(session_, rv == NGHTTP2_ERR_TOO_MANY_CONTINUATIONS
                                                    ? NGHTTP2_ENHANCE_YOUR_CALM
                                                    : NGHTTP2_PROTOCOL_ERROR);
  }
  return false;
}

bool H2Codec::output(std::string& out, std::size_t max) {
  while (out.size() < max) {
    const std::uint8_t* data = nullptr;
    const auto n = nghttp2_session_mem_send(session_, &data);
    if (n < 0) return false;
    if (n == 0) break;
    out.append(reinterpret_cast<const char*>(data), static_cast<std::size_t>(n));
  }
  return true;
}

bool H2Codec::wants_read() const {
  return !refused_ && nghttp2_session_want_read(session_) != 0;
}
bool H2Codec::wants_write() const {
  return nghttp2_session_want_write(session_) != 0;
}

bool H2Codec::respond(std::int32_t id, unsigned status, const H2Fields& fields, H2Body* body) {
  const std::string code = std::to_string(status);
  const auto nv = make_nvs(code, fields);
  nghttp2_data_provider provider{};
  provider.source.ptr = body;
  provider.read_callback = H2Callbacks::read_body;
  return nghttp2_submit_response(session_, id, nv.data(), nv.size(), body ? &provider : nullptr) ==
         0;
}

bool H2Codec::interim(std::int32_t id, unsigned status, const H2Fields& fields) {
  const std::string code = std::to_string(status);
  const auto nv = make_nvs(code, fields);
  return nghttp2_submit_headers(session_, NGHTTP2_FLAG_NONE, id, nullptr, nv.data(), nv.size(),
                                nullptr) >= 0;
}

void H2Codec::resume(std::int32_t id) {
  nghttp2_session_resume_data(session_, id);
}

void H2Codec::reset(std::int32_t id, std::uint32_t code) {
  nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, id, code);
}

void H2Codec::consume(std::int32_t id, std::size_t n) {
  Stream* s = stream(id);
  if (!s) return;
  n = std::min(n, s->unconsumed);
  s->unconsumed -= n;
  if (n > 0) nghttp2_session_consume(session_, id, n);
}

void H2Codec::goaway() {
  if (going_away_) return;
  going_away_ = true;
  nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE,
                        nghttp2_session_get_last_proc_stream_id(session_), NGHTTP2_NO_ERROR,
                        nullptr, 0);
}

void H2Codec::terminate(std::uint32_t code) {
  going_away_ = true;
  nghttp2_session_terminate_session(session_, code);
}

}  // namespace sb::runtime::http
