// The listener's `protocol:` to its handler: which handler, what it asks of
// the front door, whether it serves datagrams, and what it refuses.
#include "proxy/protocols/handler_factory.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "dns/wire.h"
#include "proxy/listen_error.h"
#include "proxy/protocols/dns/dns_handler.h"
#include "proxy/protocols/sip/sip_handler.h"
#include "proxy/protocols/smtp/smtp_handler.h"
#include "proxy/protocols/smtp/smtp_inspect_handler.h"
#include "proxy/protocols/tcp/tcp_handler.h"
#include "proxy/worker/worker.h"
#include "tests/unit/proxy/config/config_test_util.h"

namespace sb::runtime {
namespace {

using config::testing_util::load_ok;

constexpr std::string_view kConfig = R"(
workers: 1
pools:
  web:
    health: {check: none}
    servers:
      - {address: 127.0.0.1:8001, name: web1}
      - {address: 127.0.0.1:8002, name: web2}
  web-v1:
    proxy-protocol: v1
    health: {check: none}
    servers: [{address: 127.0.0.1:8011, name: v1}]
  web-v2:
    proxy-protocol: v2
    health: {check: none}
    servers: [{address: 127.0.0.1:8021, name: v2}]
  relay:
    health: {check: none}
    servers: [{address: 127.0.0.1:2525, name: hub1}]
listeners:
  plain:
    listen: ["127.0.0.1:8080"]
    protocol: tcp
    pool: web
  with-v1:
    listen: ["127.0.0.1:8081"]
    protocol: tcp
    pool: web-v1
  with-v2:
    listen: ["127.0.0.1:8082"]
    protocol: tcp
    pool: web-v2
  smtp:
    listen: ["127.0.0.1:2526"]
    protocol: smtp
    pool: relay
    smtp: {mode: passthrough, banner-timeout: 5s}
  names:
    listen: ["127.0.0.1:8053"]
    protocol: dns
    dns:
      records:
        - {name: www.example.test, type: A, pool: web, ttl: 30}
        - {name: example.test, type: MX, pool: relay, ttl: 60, preference: 10}
  web-l7:
    listen: ["127.0.0.1:8090"]
    protocol: http
    http: {routes: [{pool: web}]}
  voice:
    listen: ["127.0.0.1:5060"]
    protocol: sip
    pool: relay
)";

class HandlerFactoryTest : public ::testing::Test {
 protected:
  const config::ListenerConfig& listener(std::string_view name) const {
    const auto it = std::find_if(cfg_.listeners.begin(), cfg_.listeners.end(),
                                 [&](const auto& l) { return l.name == name; });
    if (it == cfg_.listeners.end()) throw std::out_of_range("no listener " + std::string(name));
    return *it;
  }

  // As ListenerSet::prepare builds it, remembering the pools asked for.
  HandlerContext context() {
    HandlerContext c;
    c.pool_named = [this](const std::string& name) -> std::shared_ptr<const PoolRuntime> {
      asked_.push_back(name);
      for (const auto& p : registry_.all()) {
        if (p->config.name == name) return p;
      }
      throw ListenError("no pool " + name);
    };
    c.workers = 1;
    c.stats = stats_;
    return c;
  }

  std::unique_ptr<ProtocolHandler> make(std::string_view name) {
    return make_handler(listener(name), context());
  }

  config::Config cfg_ = load_ok(kConfig);
  PoolRegistry registry_{cfg_};
  std::shared_ptr<ListenerStats> stats_ = std::make_shared<ListenerStats>();
  std::vector<std::string> asked_;
};

TEST_F(HandlerFactoryTest, TcpIsTheL4RelayWithAFirstByteDeadline) {
  const auto handler = make("plain");
  ASSERT_NE(handler, nullptr);
  EXPECT_NE(dynamic_cast<TcpHandler*>(handler.get()), nullptr);
  EXPECT_EQ(dynamic_cast<SmtpPassthroughHandler*>(handler.get()), nullptr);
  EXPECT_EQ(dynamic_cast<DnsHandler*>(handler.get()), nullptr);
  const FrontPolicy policy = handler->front_policy();
  EXPECT_EQ(policy.first_byte, FirstByte::deadline);
  // No PROXY header to the servers: no need for the local address.
  EXPECT_FALSE(policy.local_endpoint);
  EXPECT_FALSE(handler->datagrams());
  EXPECT_EQ(asked_, std::vector<std::string>{"web"});
}

TEST_F(HandlerFactoryTest, TcpToAPoolWithProxyProtocolNeedsTheLocalAddress) {
  for (const auto name : {"with-v1", "with-v2"}) {
    SCOPED_TRACE(name);
    const auto handler = make(name);
    ASSERT_NE(dynamic_cast<TcpHandler*>(handler.get()), nullptr);
    const FrontPolicy policy = handler->front_policy();
    EXPECT_EQ(policy.first_byte, FirstByte::deadline);
    EXPECT_TRUE(policy.local_endpoint);
    EXPECT_FALSE(handler->datagrams());
  }
  EXPECT_EQ(asked_, (std::vector<std::string>{"web-v1", "web-v2"}));
}

TEST_F(HandlerFactoryTest, SmtpPassthroughWaitsForTheServerToSpeak) {
  const auto handler = make("smtp");
  ASSERT_NE(handler, nullptr);
  EXPECT_NE(dynamic_cast<SmtpPassthroughHandler*>(handler.get()), nullptr);
  EXPECT_EQ(dynamic_cast<TcpHandler*>(handler.get()), nullptr);
  const FrontPolicy policy = handler->front_policy();
  EXPECT_EQ(policy.first_byte, FirstByte::none);
  EXPECT_FALSE(handler->datagrams());
  EXPECT_EQ(asked_, std::vector<std::string>{"relay"});
}

TEST_F(HandlerFactoryTest, SmtpWithoutAnSmtpSectionIsPassthrough) {
  config::ListenerConfig l = listener("smtp");
  l.smtp.reset();
  const auto handler = make_handler(l, context());
  EXPECT_NE(dynamic_cast<SmtpPassthroughHandler*>(handler.get()), nullptr);
}

TEST_F(HandlerFactoryTest, SmtpInspectSpeaksFirstItself) {
  config::ListenerConfig l = listener("smtp");
  l.smtp->mode = config::SmtpMode::inspect;
  const auto handler = make_handler(l, context());
  ASSERT_NE(handler, nullptr);
  EXPECT_NE(dynamic_cast<smtp::SmtpInspectHandler*>(handler.get()), nullptr);
  EXPECT_EQ(dynamic_cast<SmtpPassthroughHandler*>(handler.get()), nullptr);
  // Its own greeting comes first: no deadline for the client's first byte.
  EXPECT_EQ(handler->front_policy().first_byte, FirstByte::none);
  EXPECT_FALSE(handler->datagrams());
  EXPECT_EQ(asked_, std::vector<std::string>{"relay"});
}

TEST_F(HandlerFactoryTest, DnsServesDatagramsAndResolvesEveryRecordPool) {
  const auto handler = make("names");
  ASSERT_NE(handler, nullptr);
  EXPECT_NE(dynamic_cast<DnsHandler*>(handler.get()), nullptr);
  EXPECT_EQ(dynamic_cast<TcpHandler*>(handler.get()), nullptr);
  const FrontPolicy policy = handler->front_policy();
  EXPECT_EQ(policy.first_byte, FirstByte::none);
  EXPECT_FALSE(policy.local_endpoint);
  EXPECT_TRUE(handler->datagrams());
  EXPECT_EQ(asked_, (std::vector<std::string>{"web", "relay"}));
}

// A query for `name` (type A, no EDNS).
std::vector<std::uint8_t> a_query(std::string_view name) {
  std::vector<std::uint8_t> b = {0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
  std::size_t start = 0;
  while (start < name.size()) {
    const auto dot = std::min(name.find('.', start), name.size());
    b.push_back(static_cast<std::uint8_t>(dot - start));
    b.insert(b.end(), name.begin() + static_cast<long>(start),
             name.begin() + static_cast<long>(dot));
    start = dot + 1;
  }
  b.insert(b.end(), {0, 0, dns::wire::kTypeA, 0, dns::wire::kClassIn});
  return b;
}

TEST_F(HandlerFactoryTest, TheDnsHandlerAnswersFromTheRecordPoolOnItsWorker) {
  const auto handler = make("names");
  auto* dns_handler = dynamic_cast<DnsHandler*>(handler.get());
  ASSERT_NE(dns_handler, nullptr);
  Worker worker(0, config::TuningConfig{});
  WorkerGeneration gen;
  for (std::size_t p = 0; p < registry_.size(); ++p) {
    gen.pools.push_back({registry_.shared(p), registry_.at(p).snapshot});
  }
  worker.install(std::move(gen));

  const auto q = a_query("www.example.test");
  std::vector<std::uint8_t> out(dns::wire::kPlainUdpLimit);
  const std::size_t n = dns_handler->answer(worker, q, out, false);
  ASSERT_GE(n, dns::wire::kHeaderSize);
  EXPECT_EQ(out[0], 0x12);
  EXPECT_EQ(out[1], 0x34);
  EXPECT_EQ(out[3] & 0x0f, 0);                      // NOERROR
  EXPECT_EQ((out[6] << 8) | out[7], 2);             // one A record per server of web
  EXPECT_EQ(stats_->dns.queries[0][0].load(), 1u);  // A, NOERROR
}

TEST_F(HandlerFactoryTest, SipServesDatagramsByItsTransports) {
  asked_.clear();
  const auto handler = make("voice");
  ASSERT_NE(handler, nullptr);
  EXPECT_NE(dynamic_cast<sip::SipHandler*>(handler.get()), nullptr);
  // The caller speaks first, and SIP over TCP has its own idle limit.
  EXPECT_EQ(handler->front_policy().first_byte, FirstByte::none);
  EXPECT_TRUE(handler->datagrams());  // transports: [udp, tcp] by default
  EXPECT_EQ(asked_, std::vector<std::string>{"relay"});

  config::ListenerConfig tcp_only = listener("voice");
  tcp_only.sip.emplace().transports = {config::SipTransport::tcp};
  EXPECT_FALSE(make_handler(tcp_only, context())->datagrams());
}

TEST_F(HandlerFactoryTest, HttpAsksForEveryRoutesPool) {
  asked_.clear();
  auto handler = make_handler(listener("web-l7"), context());
  ASSERT_NE(handler, nullptr);
  EXPECT_EQ(asked_, std::vector<std::string>{"web"});
  // The client speaks first: the front door waits for its first byte.
  EXPECT_EQ(handler->front_policy().first_byte, FirstByte::wait);
}

TEST_F(HandlerFactoryTest, AnUnknownPoolPropagatesTheLookupError) {
  for (const auto name : {"plain", "smtp"}) {
    SCOPED_TRACE(name);
    config::ListenerConfig l = listener(name);
    l.pool = "missing";
    EXPECT_THROW(make_handler(l, context()), ListenError);
  }
  config::ListenerConfig dns = listener("names");
  dns.dns->records.back().pool = "missing";
  EXPECT_THROW(make_handler(dns, context()), ListenError);
  EXPECT_EQ(asked_, (std::vector<std::string>{"missing", "missing", "web", "missing"}));
}

TEST_F(HandlerFactoryTest, TheCallbacksOwnExceptionTypeIsWhatTheCallerSees) {
  struct Custom : std::runtime_error {
    using std::runtime_error::runtime_error;
  };
  HandlerContext c = context();
  c.pool_named = [](const std::string& name) -> std::shared_ptr<const PoolRuntime> {
    throw Custom("no pool " + name);
  };
  try {
    make_handler(listener("plain"), c);
    FAIL() << "no exception";
  } catch (const Custom& e) {
    EXPECT_STREQ(e.what(), "no pool web");
  }
}

}  // namespace
}  // namespace sb::runtime
