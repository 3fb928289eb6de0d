// The HTTP/2 server side without sockets: requests out of an nghttp2
// client's bytes, flow control held to what the caller consumed, and each
// limit of docs/configuration.md ("HTTP/2") with the frames that break it.
#include "proxy/protocols/http/h2_codec.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <optional>

#include "tests/unit/proxy/protocols/http/h2_frames.h"

namespace sb::runtime::http {
namespace {

namespace h2 = sb::test::h2;
using Clock = H2Codec::Clock;

// A response body from a string.
struct StringBody : H2Body {
  std::string left;
  H2Fields trailing;
  std::optional<std::size_t> read(std::uint8_t* buf, std::size_t max, bool& end) override {
    const std::size_t n = std::min(max, left.size());
    std::memcpy(buf, left.data(), n);
    left.erase(0, n);
    end = left.empty();
    return n;
  }
  H2Fields trailers() override { return trailing; }
};

struct Recorder : H2Codec::Handler {
  struct Request {
    H2RequestHead head;
    bool end_stream = false;
    std::string body;
    std::optional<H2Fields> trailers;  // set at the body's end
    std::optional<std::uint32_t> closed;
  };
  std::map<std::int32_t, Request> requests;
  std::vector<H2Limit> limits;

  void on_request(std::int32_t id, H2RequestHead head, bool end_stream) override {
    requests[id].head = std::move(head);
    requests[id].end_stream = end_stream;
    if (end_stream) requests[id].trailers.emplace();
  }
  void on_data(std::int32_t id, std::string_view data) override { requests[id].body += data; }
  void on_end_stream(std::int32_t id, H2Fields trailers) override {
    requests[id].trailers = std::move(trailers);
  }
  void on_close(std::int32_t id, std::uint32_t code) override { requests[id].closed = code; }
  void on_limit(H2Limit limit) override { limits.push_back(limit); }
};

class H2CodecTest : public ::testing::Test {
 protected:
  H2CodecTest() { settings.max_resets_per_second = 10; }

  H2Codec& codec() {
    if (!codec_) codec_.emplace(settings, rec);
    return *codec_;
  }
  // Feeds the client's bytes at `now`; the server's frames that came out.
  std::vector<h2::Frame> send(std::string_view bytes, Clock::time_point now = {}) {
    last_ok = codec().receive(bytes, now);
    std::string out;
    EXPECT_TRUE(codec().output(out, 1 << 20));
    return h2::parse(out);
  }
  static const h2::Frame* find(const std::vector<h2::Frame>& frames, std::uint8_t type) {
    for (const auto& f : frames) {
      if (f.type == type) return &f;
    }
    return nullptr;
  }

  H2Settings settings;
  Recorder rec;
  std::optional<H2Codec> codec_;
  bool last_ok = true;
};

// A client made with nghttp2 itself, pumped against the codec.
class Client {
 public:
  Client() {
    nghttp2_session_callbacks* cb = nullptr;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(
        cb, [](nghttp2_session*, std::uint8_t, std::int32_t, const std::uint8_t* data,
               std::size_t len, void* self) {
          static_cast<Client*>(self)->body.append(reinterpret_cast<const char*>(data), len);
          return 0;
        });
    nghttp2_session_callbacks_set_on_header_callback(
        cb, [](nghttp2_session*, const nghttp2_frame*, const std::uint8_t* name, std::size_t nlen,
               const std::uint8_t* value, std::size_t vlen, std::uint8_t, void* self) {
          static_cast<Client*>(self)->fields.emplace_back(
              std::string(reinterpret_cast<const char*>(name), nlen),
              std::string(reinterpret_cast<const char*>(value), vlen));
          return 0;
        });
    nghttp2_session_client_new(&session, cb, this);
    nghttp2_session_callbacks_del(cb);
    nghttp2_submit_settings(session, NGHTTP2_FLAG_NONE, nullptr, 0);
  }
  ~Client() { nghttp2_session_del(session); }

  std::int32_t request(const h2::Fields& head, nghttp2_data_provider* body = nullptr) {
    std::vector<nghttp2_nv> nv;
    for (const auto& [name, value] : head) {
      nv.push_back({reinterpret_cast<std::uint8_t*>(const_cast<char*>(name.data())),
                    reinterpret_cast<std::uint8_t*>(const_cast<char*>(value.data())), name.size(),
                    value.size(), NGHTTP2_NV_FLAG_NONE});
    }
    return nghttp2_submit_request(session, nullptr, nv.data(), nv.size(), body, nullptr);
  }
  // Bytes both ways until neither side has any; `between` runs after each
  // turn of the server's (to respond, to consume).
  template <typename F>
  void pump(H2Codec& server, F&& between) {
    for (int turn = 0; turn < 1000; ++turn) {
      std::string to_server;
      const std::uint8_t* data = nullptr;
      for (ssize_t n; (n = nghttp2_session_mem_send(session, &data)) > 0;) {
        to_server.append(reinterpret_cast<const char*>(data), static_cast<std::size_t>(n));
      }
      if (!to_server.empty()) server.receive(to_server);
      between();
      std::string to_client;
      server.output(to_client, 1 << 20);
      if (!to_client.empty()) {
        nghttp2_session_mem_recv(session, reinterpret_cast<const std::uint8_t*>(to_client.data()),
                                 to_client.size());
      }
      if (to_server.empty() && to_client.empty()) return;
    }
    ADD_FAILURE() << "the pump did not settle";
  }

  nghttp2_session* session = nullptr;
  std::string body;
  std::vector<std::pair<std::string, std::string>> fields;
};

// A client's request body from `left` (consumed as it is sent).
nghttp2_data_provider upload_of(std::string& left) {
  nghttp2_data_provider provider{};
  provider.source.ptr = &left;
  provider.read_callback = [](nghttp2_session*, std::int32_t, std::uint8_t* buf, std::size_t max,
                              std::uint32_t* flags, nghttp2_data_source* src, void*) -> ssize_t {
    auto& rest = *static_cast<std::string*>(src->ptr);
    const std::size_t n = std::min(max, rest.size());
    std::memcpy(buf, rest.data(), n);
    rest.erase(0, n);
    if (rest.empty()) *flags |= NGHTTP2_DATA_FLAG_EOF;
    return static_cast<ssize_t>(n);
  };
  return provider;
}

TEST_F(H2CodecTest, DeliversARequestWithItsCookiesJoinedAndSendsTheResponse) {
  Client client;
  auto head = h2::get("/owa/");
  head.emplace_back("cookie", "a=1");
  head.emplace_back("x-one", "1");
  head.emplace_back("cookie", "b=2");
  const auto id = client.request(head);
  StringBody body;
  body.left = "hello";
  bool responded = false;
  client.pump(codec(), [&] {
    if (!responded && rec.requests.count(id)) {
      responded = true;
      EXPECT_TRUE(codec().respond(id, 200, {{"content-type", "text/plain"}}, &body));
    }
  });
  ASSERT_EQ(rec.requests.count(id), 1u);
  const auto& got = rec.requests[id];
  EXPECT_EQ(got.head.method, "GET");
  EXPECT_EQ(got.head.path, "/owa/");
  EXPECT_EQ(got.head.authority, "mail.example.com");
  EXPECT_EQ(got.head.scheme, "https");
  EXPECT_TRUE(got.end_stream);
  const H2Fields want{{"x-one", "1"}, {"cookie", "a=1; b=2"}};
  EXPECT_EQ(got.head.fields, want);
  EXPECT_EQ(client.body, "hello");
  EXPECT_NE(std::find(client.fields.begin(), client.fields.end(),
                      std::pair<std::string, std::string>(":status", "200")),
            client.fields.end());
  EXPECT_EQ(got.closed, 0u);
  EXPECT_TRUE(rec.limits.empty());
}

TEST_F(H2CodecTest, RequestBodyAndTrailersArriveAndTheResponseEndsWithTrailers) {
  std::string upload(40000, 'u');
  nghttp2_data_provider provider = upload_of(upload);
  Client client;
  auto head = h2::get("/ews/exchange.asmx");
  head[0].second = "POST";
  const auto id = client.request(head, &provider);
  StringBody body;
  body.left = "ok";
  body.trailing = {{"x-checksum", "42"}};
  bool responded = false;
  std::size_t consumed = 0;
  client.pump(codec(), [&] {
    auto& r = rec.requests[id];
    codec().consume(id, r.body.size() - consumed);  // passed on at once
    consumed = r.body.size();
    if (!responded && r.trailers) {
      responded = true;
      codec().respond(id, 200, {}, &body);
    }
  });
  EXPECT_EQ(rec.requests[id].body, std::string(40000, 'u'));
  ASSERT_TRUE(rec.requests[id].trailers);
  EXPECT_EQ(client.body, "ok");
  EXPECT_NE(std::find(client.fields.begin(), client.fields.end(),
                      std::pair<std::string, std::string>("x-checksum", "42")),
            client.fields.end());
}

TEST_F(H2CodecTest, TheClientSendsNoMoreThanTheWindowUntilTheBodyIsConsumed) {
  settings.initial_window_size = 16384;
  std::string upload(100000, 'u');
  nghttp2_data_provider provider = upload_of(upload);
  Client client;
  auto head = h2::get("/rpc/rpcproxy.dll");
  head[0].second = "RPC_IN_DATA";
  const auto id = client.request(head, &provider);
  client.pump(codec(), [] {});
  // Nothing consumed: the window is all the server holds (the protocol's
  // default one, until the client has the server's SETTINGS).
  const std::size_t held = rec.requests[id].body.size();
  EXPECT_LE(held, 65535u);
  client.pump(codec(), [] {});
  EXPECT_EQ(rec.requests[id].body.size(), held);
  for (int round = 0; round < 20 && !rec.requests[id].trailers; ++round) {
    codec().consume(id, 16384);
    client.pump(codec(), [] {});
  }
  EXPECT_EQ(rec.requests[id].body.size(), 100000u);
}

TEST_F(H2CodecTest, BodyNeverPassedOnGoesBackToTheConnectionWindowWhenItsStreamCloses) {
  settings.initial_window_size = 65535;
  std::string first(60000, 'a');
  std::string second(60000, 'b');
  Client client;
  auto head = h2::get("/EWS/Exchange.asmx");
  head[0].second = "POST";
  auto one_body = upload_of(first);
  const auto one = client.request(head, &one_body);
  client.pump(codec(), [] {});
  ASSERT_EQ(rec.requests[one].body.size(), 60000u);
  // Answered without its body being read (an early 404, a server that
  // stopped reading), then reset: none of it was consumed.
  codec().reset(one, NGHTTP2_CANCEL);
  client.pump(codec(), [] {});
  ASSERT_TRUE(rec.requests[one].closed);
  codec().consume(one, 60000);  // too late: given back already, not twice
  auto two_body = upload_of(second);
  const auto two = client.request(head, &two_body);
  std::size_t consumed = 0;
  client.pump(codec(), [&] {
    const std::size_t got = rec.requests[two].body.size();
    codec().consume(two, got - consumed);
    consumed = got;
  });
  EXPECT_EQ(rec.requests[two].body.size(), 60000u);
}

TEST_F(H2CodecTest, RapidResetGetsGoawayEnhanceYourCalm) {
  send(h2::client_start());
  std::string attack;
  for (std::uint32_t id = 1; id <= 2 * 11; id += 2) {
    attack += h2::headers(id, h2::get(), false) + h2::rst_stream(id, NGHTTP2_CANCEL);
  }
  const auto frames = send(attack);
  EXPECT_FALSE(codec().wants_read());
  const auto* goaway = find(frames, h2::kGoaway);
  ASSERT_NE(goaway, nullptr);
  EXPECT_EQ(goaway->error_code(), NGHTTP2_ENHANCE_YOUR_CALM);
  EXPECT_EQ(rec.limits, std::vector<H2Limit>{H2Limit::resets});
}

TEST_F(H2CodecTest, ResetsSpreadOverSecondsAreAllowed) {
  Clock::time_point now{};
  send(h2::client_start(), now);
  for (std::uint32_t id = 1; id <= 2 * 30; id += 2) {
    if (id % 10 == 1) now += std::chrono::seconds(1);
    const auto frames = send(h2::headers(id, h2::get(), false) + h2::rst_stream(id, 8), now);
    EXPECT_EQ(find(frames, h2::kGoaway), nullptr);
  }
  EXPECT_TRUE(rec.limits.empty());
  EXPECT_TRUE(codec().wants_read());
}

TEST_F(H2CodecTest, SettingsFloodIsCutOff) {
  send(h2::client_start());
  std::string flood;
  for (int i = 0; i < 150; ++i) flood += h2::frame(h2::kSettings, 0, 0);
  const auto frames = send(flood);
  const auto* goaway = find(frames, h2::kGoaway);
  ASSERT_NE(goaway, nullptr);
  EXPECT_EQ(goaway->error_code(), NGHTTP2_ENHANCE_YOUR_CALM);
  EXPECT_EQ(rec.limits, std::vector<H2Limit>{H2Limit::settings_flood});
}

TEST_F(H2CodecTest, PingFloodIsCutOff) {
  send(h2::client_start());
  std::string flood;
  for (int i = 0; i < 150; ++i) flood += h2::ping();
  const auto frames = send(flood);
  const auto* goaway = find(frames, h2::kGoaway);
  ASSERT_NE(goaway, nullptr);
  EXPECT_EQ(goaway->error_code(), NGHTTP2_ENHANCE_YOUR_CALM);
  // Some PINGs were answered before the cut, not all of them.
  const auto acks = std::count_if(frames.begin(), frames.end(),
                                  [](const h2::Frame& f) { return f.type == h2::kPing; });
  EXPECT_LE(acks, 101);
  EXPECT_EQ(rec.limits, std::vector<H2Limit>{H2Limit::ping_flood});
}

TEST_F(H2CodecTest, ContinuationFloodIsCutOff) {
  send(h2::client_start());
  const std::string block = h2::hpack(h2::get());
  std::string flood = h2::frame(h2::kHeaders, h2::kEndStream, 1, block);
  for (int i = 0; i < 50; ++i) flood += h2::frame(h2::kContinuation, 0, 1, "");
  send(flood);
  EXPECT_FALSE(last_ok);
  EXPECT_FALSE(codec().wants_read());
  EXPECT_TRUE(rec.requests.empty());
  EXPECT_EQ(rec.limits, std::vector<H2Limit>{H2Limit::continuation});
}

TEST_F(H2CodecTest, HeaderListOverTheLimitIsDeliveredMarkedTooLargeWithoutItsFields) {
  settings.max_header_list_size = 1000;
  send(h2::client_start());
  auto head = h2::get();
  head.emplace_back("x-big", std::string(3000, 'b'));
  head.emplace_back("x-after", "1");
  send(h2::headers(1, head));
  ASSERT_EQ(rec.requests.count(1), 1u);
  EXPECT_TRUE(rec.requests[1].head.too_large);
  EXPECT_TRUE(rec.requests[1].head.fields.empty());
  EXPECT_TRUE(codec().wants_read());  // a 431 for the stream, not a connection error
}

TEST_F(H2CodecTest, StreamsBeyondMaxConcurrentStreamsAreRefusedBeforeTheSettingIsAcknowledged) {
  settings.max_concurrent_streams = 2;
  send(h2::client_start());
  const auto frames = send(h2::headers(1, h2::get(), false) + h2::headers(3, h2::get(), false) +
                           h2::headers(5, h2::get(), false));
  EXPECT_EQ(rec.requests.size(), 2u);
  const auto* refused = find(frames, h2::kRstStream);
  ASSERT_NE(refused, nullptr);
  EXPECT_EQ(refused->stream, 5u);
  EXPECT_EQ(refused->error_code(), NGHTTP2_REFUSED_STREAM);
  EXPECT_EQ(find(frames, h2::kGoaway), nullptr);
  EXPECT_EQ(rec.limits, std::vector<H2Limit>{H2Limit::concurrent_streams});
}

TEST_F(H2CodecTest, StreamsBeyondAnAcknowledgedMaxConcurrentStreamsEndTheConnection) {
  settings.max_concurrent_streams = 2;
  send(h2::client_start());
  send(h2::frame(h2::kSettings, h2::kAck, 0));
  const auto frames = send(h2::headers(1, h2::get(), false) + h2::headers(3, h2::get(), false) +
                           h2::headers(5, h2::get(), false));
  EXPECT_EQ(rec.requests.size(), 2u);
  const auto* goaway = find(frames, h2::kGoaway);
  ASSERT_NE(goaway, nullptr);
  EXPECT_EQ(goaway->error_code(), NGHTTP2_PROTOCOL_ERROR);
  EXPECT_EQ(rec.limits, std::vector<H2Limit>{H2Limit::concurrent_streams});
}

TEST_F(H2CodecTest, DataOnStreamZeroIsAProtocolErrorCountedOnce) {
  send(h2::client_start());
  const auto frames = send(h2::frame(h2::kData, 0, 0, "x") + h2::frame(h2::kData, 0, 0, "y"));
  const auto* goaway = find(frames, h2::kGoaway);
  ASSERT_NE(goaway, nullptr);
  EXPECT_EQ(goaway->error_code(), NGHTTP2_PROTOCOL_ERROR);
  EXPECT_EQ(rec.limits, std::vector<H2Limit>{H2Limit::protocol});
}

TEST_F(H2CodecTest, ABadPrefaceEndsTheConnection) {
  send("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_FALSE(last_ok);
  EXPECT_EQ(rec.limits, std::vector<H2Limit>{H2Limit::protocol});
  EXPECT_TRUE(rec.requests.empty());
}

TEST_F(H2CodecTest, AfterGoawayNewStreamsAreNotDelivered) {
  send(h2::client_start() + h2::headers(1, h2::get()));
  codec().goaway();
  EXPECT_TRUE(codec().going_away());
  const auto frames = send(h2::headers(3, h2::get()));
  const auto* goaway = find(frames, h2::kGoaway);
  ASSERT_NE(goaway, nullptr);
  EXPECT_EQ(goaway->error_code(), NGHTTP2_NO_ERROR);
  EXPECT_EQ(goaway->word(0), 1u);  // the last stream it will serve
  EXPECT_EQ(rec.requests.count(1), 1u);
  EXPECT_EQ(rec.requests.count(3), 0u);
  EXPECT_TRUE(rec.limits.empty());
}

TEST_F(H2CodecTest, AResetStreamIsClosedWithItsCode) {
  send(h2::client_start() + h2::headers(1, h2::get(), false));
  send(h2::rst_stream(1, NGHTTP2_CANCEL));
  ASSERT_TRUE(rec.requests[1].closed);
  EXPECT_EQ(*rec.requests[1].closed, NGHTTP2_CANCEL);
}

}  // namespace
}  // namespace sb::runtime::http
