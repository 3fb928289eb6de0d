// UpstreamAttempt against real loopback sockets: a listening server accepts,
// a closed port refuses and the next server is presented to, the retry
// budget, a server that failed after it accepted is not tried again, "tried"
// follows servers by id when a publication reorders the pool, and failures
// feed outlier ejection.
#include "proxy/upstream/attempt.h"

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <vector>

#include "net/endpoint.h"

namespace sb::runtime {
namespace {

using namespace std::chrono_literals;
using balancer::ConnectFailure;

std::uint16_t closed_port(asio::io_context& io) {
  tcp::acceptor a(io, {asio::ip::make_address("127.0.0.1"), 0});
  return a.local_endpoint().port();  // closed again when `a` goes
}

class AttemptTest : public ::testing::Test {
 protected:
  AttemptTest() {
    listening_.open(tcp::v4());
    listening_.bind({asio::ip::make_address("127.0.0.1"), 0});
    listening_.listen();
    worker_.set_outlier_hook(
        [this](const PoolRuntime&, std::uint64_t id) { ejected_.push_back(id); });
    endpoints_.client = tcp::endpoint(asio::ip::make_address("192.0.2.7"), 40000);
  }

  balancer::ServerView server(std::uint64_t id, std::string name, std::uint16_t port) {
    balancer::ServerView s;
    s.id = id;
    s.name = std::move(name);
    s.address = "127.0.0.1:" + std::to_string(port);
    s.ip = *net::IpAddress::parse("127.0.0.1");
    s.port = port;
    s.stats = std::make_shared<balancer::ServerStats>();
    return s;
  }

  // Installs a pool of `servers` (first-available: presented in list order).
  void install(std::vector<balancer::ServerView> servers, int retries = 2,
               balancer::Algorithm algorithm = balancer::Algorithm::first_available) {
    auto rt = std::make_shared<PoolRuntime>();
    rt->config.name = "p";
    rt->config.retries = retries;
    rt->config.connect_timeout = 1s;
    rt->config.outlier.consecutive_failures = 2;
    rt->algorithm = algorithm;
    auto snapshot = std::make_shared<balancer::PoolSnapshot>();
    snapshot->name = "p";
    snapshot->servers = std::move(servers);
    rt->snapshot = snapshot;
    pool_ = rt;
    WorkerGeneration gen;
    gen.pools.push_back({rt, snapshot});
    worker_.install(std::move(gen));
  }

  // A new snapshot of the installed pool, as the control plane publishes one.
  void publish(std::vector<balancer::ServerView> servers) {
    auto snapshot = std::make_shared<balancer::PoolSnapshot>();
    snapshot->name = "p";
    snapshot->servers = std::move(servers);
    snapshot->generation = 2;
    worker_.publish(pool_, snapshot);
    worker_.io().poll();
    worker_.io().restart();
  }

  std::optional<UpstreamStream> next(UpstreamAttempt& attempt) {
    std::optional<UpstreamStream> out;
    bool done = false;
    asio::co_spawn(
        worker_.io(),
        [&]() -> awaitable<void> {
          out = co_await attempt.next();
          done = true;
        },
        asio::detached);
    const auto limit = std::chrono::steady_clock::now() + 5s;
    while (!done && std::chrono::steady_clock::now() < limit) worker_.io().run_one_for(50ms);
    worker_.io().restart();
    EXPECT_TRUE(done) << "next() did not finish within 5s";
    return out;
  }

  std::uint64_t failures(const balancer::ServerView& s, ConnectFailure f) {
    return s.stats->connect_failures[static_cast<std::size_t>(f)].load();
  }

  Worker worker_{0, config::TuningConfig{}};
  tcp::acceptor listening_{worker_.io()};
  std::shared_ptr<PoolRuntime> pool_;
  net::ClientEndpoints endpoints_;
  std::vector<std::uint64_t> ejected_;
};

TEST_F(AttemptTest, AListeningServerAcceptsAndIsCountedActive) {
  install({server(1, "up", listening_.local_endpoint().port())});
  UpstreamAttempt attempt(worker_, *pool_, endpoints_);
  {
    auto stream = next(attempt);
    ASSERT_TRUE(stream);
    EXPECT_EQ(stream->view().name, "up");
    EXPECT_TRUE(stream->socket.is_open());
    EXPECT_EQ(stream->socket.remote_endpoint(), listening_.local_endpoint());
    EXPECT_EQ(stream->view().stats->active.load(), 1);
    EXPECT_EQ(attempt.tried(), 1);
    EXPECT_EQ(attempt.retries(), 0);
    EXPECT_EQ(attempt.end(), AttemptEnd::none);
  }
  EXPECT_EQ(pool_->snapshot->servers[0].stats->active.load(), 0);
  EXPECT_EQ(pool_->stats->retries.load(), 0u);
}

TEST_F(AttemptTest, ARefusingServerIsCountedAndTheNextOneIsPresentedTo) {
  const auto refused = closed_port(worker_.io());
  install({server(1, "refuses", refused), server(2, "up", listening_.local_endpoint().port())});
  UpstreamAttempt attempt(worker_, *pool_, endpoints_);
  auto stream = next(attempt);
  ASSERT_TRUE(stream);
  EXPECT_EQ(stream->view().name, "up");
  EXPECT_EQ(attempt.tried(), 2);
  EXPECT_EQ(attempt.retries(), 1);
  EXPECT_EQ(failures(pool_->snapshot->servers[0], ConnectFailure::refused), 1u);
  EXPECT_EQ(pool_->stats->retries.load(), 1u);
  EXPECT_EQ(pool_->stats->exhausted.load(), 0u);
}

TEST_F(AttemptTest, RetriesBoundTheServersPresentedTo) {
  install({server(1, "a", closed_port(worker_.io())), server(2, "b", closed_port(worker_.io())),
           server(3, "c", listening_.local_endpoint().port())},
          /*retries=*/1);
  UpstreamAttempt attempt(worker_, *pool_, endpoints_);
  EXPECT_FALSE(next(attempt));
  EXPECT_EQ(attempt.end(), AttemptEnd::exhausted);
  EXPECT_EQ(attempt.tried(), 2);
  EXPECT_EQ(pool_->stats->exhausted.load(), 1u);
  EXPECT_EQ(pool_->snapshot->servers[2].stats->connections_total.load(), 0u);
}

TEST_F(AttemptTest, EveryServerTriedOnceThenExhausted) {
  install({server(1, "a", closed_port(worker_.io())), server(2, "b", closed_port(worker_.io()))},
          /*retries=*/5);
  UpstreamAttempt attempt(worker_, *pool_, endpoints_);
  EXPECT_FALSE(next(attempt));
  EXPECT_EQ(attempt.end(), AttemptEnd::exhausted);
  EXPECT_EQ(attempt.tried(), 2);
  for (const auto& s : pool_->snapshot->servers)
    EXPECT_EQ(failures(s, ConnectFailure::refused), 1u);
}

TEST_F(AttemptTest, AServerThatFailedAfterItAcceptedIsNotTriedAgain) {
  tcp::acceptor second(worker_.io(), {asio::ip::make_address("127.0.0.1"), 0});
  install({server(1, "first", listening_.local_endpoint().port()),
           server(2, "second", second.local_endpoint().port())});
  UpstreamAttempt attempt(worker_, *pool_, endpoints_);
  auto first = next(attempt);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->view().name, "first");
  attempt.failed(*first, ConnectFailure::reset);  // say, a request reset before its response
  EXPECT_EQ(failures(first->view(), ConnectFailure::reset), 1u);
  auto again = next(attempt);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->view().name, "second");
  EXPECT_EQ(attempt.retries(), 1);
}

TEST_F(AttemptTest, TriedFollowsServersByIdWhenAPublicationReordersThePool) {
  tcp::acceptor other(worker_.io(), {asio::ip::make_address("127.0.0.1"), 0});
  auto a = server(1, "a", listening_.local_endpoint().port());
  auto b = server(2, "b", other.local_endpoint().port());
  install({a, b});
  UpstreamAttempt attempt(worker_, *pool_, endpoints_);
  auto first = next(attempt);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->view().name, "a");  // index 0
  attempt.failed(*first, ConnectFailure::reset);
  // Discovery reorders the pool meanwhile: b is index 0 now, a index 1. A
  // tried set of indexes would skip b and present the client to a again.
  publish({b, a});
  auto again = next(attempt);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->view().name, "b");
}

TEST_F(AttemptTest, FailuresInARowReportAnOutlierByServerId) {
  install({server(41, "bad", closed_port(worker_.io())),
           server(42, "good", listening_.local_endpoint().port())});
  for (int i = 0; i < 2; ++i) {
    UpstreamAttempt attempt(worker_, *pool_, endpoints_);
    EXPECT_TRUE(next(attempt));
  }
  ASSERT_EQ(ejected_.size(), 1u);
  EXPECT_EQ(ejected_.front(), 41u);
}

TEST_F(AttemptTest, TheHashKeyDecidesTheServerOfAHashingPool) {
  std::vector<balancer::ServerView> servers;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
  for (std::uint64_t i = 1; i <= 5; ++i) {
    acceptors.push_back(std::make_unique<tcp::acceptor>(
        worker_.io(), tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)));
    servers.push_back(
        server(i, "s" + std::to_string(i), acceptors.back()->local_endpoint().port()));
  }
  install(servers, 2, balancer::Algorithm::maglev);
  // The same key from clients at different addresses reaches one server.
  std::optional<std::string> chosen;
  for (int c = 0; c < 8; ++c) {
    net::ClientEndpoints e;
    e.client = tcp::endpoint(asio::ip::make_address("192.0.2." + std::to_string(10 + c)), 40000);
    UpstreamAttempt attempt(worker_, *pool_, e, 0x5eedf00dULL);
    auto stream = next(attempt);
    ASSERT_TRUE(stream);
    if (!chosen) chosen = stream->view().name;
    EXPECT_EQ(stream->view().name, *chosen);
  }
}

TEST_F(AttemptTest, APoolRemovedByAReloadEndsTheAttempt) {
  install({server(1, "up", listening_.local_endpoint().port())});
  auto old_pool = pool_;
  UpstreamAttempt attempt(worker_, *old_pool, endpoints_);
  worker_.install(WorkerGeneration{});  // a configuration without the pool
  EXPECT_FALSE(next(attempt));
  EXPECT_EQ(attempt.end(), AttemptEnd::pool_gone);
}

}  // namespace
}  // namespace sb::runtime
