// libFuzzer target for HTTP/2's server side (proxy/protocols/http/h2_codec.h):
// nghttp2 with switchboard's settings and limits, fed a client's bytes.
//
// Input: byte 0 sets the size of the pieces the rest is fed in (1..256),
// byte 1 how the server behaves (bit 0: it answers every request with a
// small body and trailers; bit 1: it consumes request bodies only every
// fourth piece, so that the window is what holds a client back; bit 2: it
// sends GOAWAY halfway). The rest follows the client preface, which the
// target sends first so that the fuzzer spends no time finding it.
// The clock advances 100 ms per piece, so that the per-second limits are
// reached and reset.
//
// Properties checked on every input, beyond "no crash, no sanitizer report":
//  1. Events come in order per stream: a request once, on an odd stream id,
//     then DATA, then at most one end of the body, then at most one close;
//     no event for a stream after its close.
//  2. A head over max-header-size comes marked too large with no fields.
//  3. Body bytes delivered and not consumed never exceed what the windows
//     allow (the protocol's default 65535 or the window we announce).
//  4. At most one limit that ends the connection is reported.
//  5. Once receive() refuses, the codec wants no more input.
//  6. What the codec writes is a sequence of whole frames.
// A violated property aborts, which libFuzzer reports as a crash with the input.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/protocols/http/h2_codec.h"

namespace {

using sb::runtime::H2Limit;
using namespace sb::runtime::http;

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "property violated: %s\n", what);
    std::abort();
  }
}

constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

struct Body : H2Body {
  std::string left = "switchboard";
  std::optional<std::size_t> read(std::uint8_t* buf, std::size_t max, bool& end) override {
    const std::size_t n = std::min(max, left.size());
    std::memcpy(buf, left.data(), n);
    left.erase(0, n);
    end = left.empty();
    return n;
  }
  H2Fields trailers() override { return {{"x-trailer", "1"}}; }
};

struct State {
  bool requested = false;
  bool ended = false;
  bool closed = false;
};

struct Server : H2Codec::Handler {
  std::map<std::int32_t, State> streams;
  std::map<std::int32_t, Body> bodies;
  std::vector<std::int32_t> to_answer;
  std::map<std::int32_t, std::size_t> unconsumed;
  int connection_limits = 0;

  void on_request(std::int32_t id, H2RequestHead head, bool end_stream) override {
    State& s = streams[id];
    check(id > 0 && id % 2 == 1, "a request on an odd stream id");
    check(!s.requested && !s.closed, "one request per stream");
    s.requested = true;
    s.ended = end_stream;
    if (head.too_large) check(head.fields.empty(), "a head too large keeps no fields");
    to_answer.push_back(id);
  }
  void on_data(std::int32_t id, std::string_view data) override {
    const State& s = streams[id];
    check(s.requested && !s.ended && !s.closed, "DATA only within a request's body");
    unconsumed[id] += data.size();
  }
  void on_end_stream(std::int32_t id, H2Fields) override {
    State& s = streams[id];
    check(s.requested && !s.ended && !s.closed, "one end of the body, within the stream");
    s.ended = true;
  }
  void on_close(std::int32_t id, std::uint32_t) override {
    State& s = streams[id];
    check(s.requested && !s.closed, "one close, after the request");
    s.closed = true;
  }
  void on_limit(H2Limit limit) override {
    if (limit != H2Limit::header_size && limit != H2Limit::concurrent_streams) {
      ++connection_limits;
    }
  }
};

// True when `bytes` is whole frames.
bool whole_frames(std::string_view bytes) {
  while (bytes.size() >= 9) {
    const std::size_t n = (std::size_t{static_cast<unsigned char>(bytes[0])} << 16) |
                          (std::size_t{static_cast<unsigned char>(bytes[1])} << 8) |
                          static_cast<unsigned char>(bytes[2]);
    if (bytes.size() < 9 + n) return false;
    bytes.remove_prefix(9 + n);
  }
  return bytes.empty();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::size_t piece = static_cast<std::size_t>(data[0]) + 1;
  const bool answer = data[1] & 1;
  const bool hold = data[1] & 2;
  const bool goaway = data[1] & 4;
  std::string input(kPreface);
  input.append(reinterpret_cast<const char*>(data + 2), size - 2);

  H2Settings settings;
  settings.max_concurrent_streams = 8;
  settings.initial_window_size = 32768;
  settings.max_header_list_size = 4096;
  settings.max_resets_per_second = 10;
  Server server;
  H2Codec codec(settings, server);
  check(codec.ok(), "the session is set up");
  const std::size_t window = std::max<std::size_t>(65535, settings.initial_window_size);

  H2Codec::Clock::time_point now{};
  std::string out;
  bool open = true;
  std::size_t fed = 0;
  for (int turn = 0; open && fed < input.size(); ++turn) {
    const std::size_t n = std::min(piece, input.size() - fed);
    now += std::chrono::milliseconds(100);
    open = codec.receive(std::string_view(input).substr(fed, n), now);
    fed += n;
    if (!open) check(!codec.wants_read(), "a refused connection reads no more");
    if (answer) {
      for (const auto id : server.to_answer) {
        if (!server.streams[id].closed) {
          codec.respond(id, 200, {{"content-type", "text/plain"}}, &server.bodies[id]);
        }
      }
    }
    server.to_answer.clear();
    std::size_t held = 0;
    for (auto& [id, bytes] : server.unconsumed) {
      held += bytes;
      if (!hold || turn % 4 == 3) {
        codec.consume(id, bytes);
        bytes = 0;
      }
    }
    check(held <= window, "no more body held than the window allows");
    if (goaway && fed * 2 >= input.size()) codec.goaway();
    if (!codec.output(out, 1 << 20)) break;
  }
  check(server.connection_limits <= 1, "at most one limit ends the connection");
  check(whole_frames(out), "the server writes whole frames");
  return 0;
}
