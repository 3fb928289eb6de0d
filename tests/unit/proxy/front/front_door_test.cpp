// The front door on real loopback sockets: deny/allow and limits, PROXY
// headers only from proxy-from peers (and allow/deny and the per-source limit
// then on the header's address, max-connections from the accept), the
// header's deadline, early bytes, and the first-byte wait.
#include "proxy/front/front_door.h"

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>
#include <thread>

#include "net/endpoint.h"

namespace sb::runtime {
namespace {

using namespace std::chrono_literals;

net::Cidr cidr(std::string_view text) {
  return *net::Cidr::parse(text);
}

// One listening socket, a client connected to it, and the accepted socket.
class FrontDoorTest : public ::testing::Test {
 protected:
  FrontDoorTest() {
    acceptor_.open(tcp::v4());
    acceptor_.bind({asio::ip::make_address("127.0.0.1"), 0});
    acceptor_.listen();
    cfg_.name = "test";
    cfg_.proxy_from = {cidr("127.0.0.0/8")};
  }

  // Connects a new client; returns it (the accepted end is in accepted_).
  tcp::socket connect() {
    tcp::socket client(io_);
    client.connect(acceptor_.local_endpoint());
    accepted_.emplace(io_);
    acceptor_.accept(*accepted_, peer_);
    return client;
  }

  // The front door on the accepted socket, started and run as far as it goes
  // without waiting (e.g. to where it waits for a header) by start_admit(),
  // to its end by finish().
  struct Pending {
    bool done = false;
    std::optional<AdmittedClient> out;
  };
  void start_admit(FrontDoor& door, Pending& p, FrontPolicy policy = {}) {
    asio::co_spawn(
        io_,
        [&, policy]() -> awaitable<void> {
          p.out = co_await door.admit(nullptr, std::move(*accepted_), peer_, policy, 1);
          p.done = true;
        },
        asio::detached);
    io_.poll();
    io_.restart();
  }
  bool finish(Pending& p) {
    const auto limit = std::chrono::steady_clock::now() + 5s;
    while (!p.done && std::chrono::steady_clock::now() < limit) io_.run_one_for(50ms);
    io_.restart();
    return p.done;
  }

  // Runs the front door on the accepted socket to its end.
  std::optional<AdmittedClient> admit(FrontDoor& door, FrontPolicy policy = {}) {
    Pending p;
    start_admit(door, p, policy);
    EXPECT_TRUE(finish(p)) << "the front door did not finish within 5s";
    return std::move(p.out);
  }

  std::uint64_t rejected(RejectReason r) const {
    return stats_.rejected[static_cast<std::size_t>(r)].load();
  }

  static void send(tcp::socket& s, std::string_view bytes) {
    asio::write(s, asio::buffer(bytes.data(), bytes.size()));
  }

  // True when the peer closed `s` (a read gives EOF or a reset).
  static bool closed_by_peer(tcp::socket& s) {
    char c;
    error_code ec;
    s.read_some(asio::buffer(&c, 1), ec);
    return ec == asio::error::eof || ec == asio::error::connection_reset;
  }

  asio::io_context io_;
  tcp::acceptor acceptor_{io_};
  std::optional<tcp::socket> accepted_;
  tcp::endpoint peer_;
  config::ListenerConfig cfg_;
  ListenerStats stats_;
};

TEST_F(FrontDoorTest, AdmitsAClientAndHoldsItsSlotUntilItEnds) {
  FrontDoor door(cfg_, stats_);
  auto client = connect();
  {
    auto admitted = admit(door, {FirstByte::none, true});
    ASSERT_TRUE(admitted);
    EXPECT_EQ(admitted->endpoints.client, client.local_endpoint());
    EXPECT_EQ(admitted->endpoints.local, acceptor_.local_endpoint());
    EXPECT_TRUE(admitted->early_data.empty());
    EXPECT_EQ(admitted->first_byte_deadline - admitted->accepted, cfg_.client_first_byte_timeout);
    EXPECT_EQ(stats_.active.load(), 1);
    EXPECT_EQ(stats_.connections_total.load(), 1u);
  }
  EXPECT_EQ(stats_.active.load(), 0);
}

TEST_F(FrontDoorTest, DenyListClosesTheClientAndCountsAcl) {
  cfg_.deny = {cidr("127.0.0.0/8")};
  FrontDoor door(cfg_, stats_);
  auto client = connect();
  EXPECT_FALSE(admit(door));
  EXPECT_EQ(rejected(RejectReason::acl), 1u);
  EXPECT_EQ(stats_.active.load(), 0);
  EXPECT_TRUE(closed_by_peer(client));
}

TEST_F(FrontDoorTest, MaxConnectionsRefusesBeyondTheLimit) {
  cfg_.max_connections = 1;
  FrontDoor door(cfg_, stats_);
  auto first_client = connect();
  auto first = admit(door);
  ASSERT_TRUE(first);
  auto second_client = connect();
  EXPECT_FALSE(admit(door));
  EXPECT_EQ(rejected(RejectReason::limit), 1u);
  first.reset();  // its slot is free again
  auto third_client = connect();
  EXPECT_TRUE(admit(door));
}

TEST_F(FrontDoorTest, ProxyHeaderFromATrustedPeerNamesTheClient) {
  cfg_.accept_proxy = true;
  FrontDoor door(cfg_, stats_);
  auto client = connect();
  send(client, "PROXY TCP4 10.1.1.1 10.2.2.2 40000 25\r\nEHLO early");
  const auto admitted = admit(door);
  ASSERT_TRUE(admitted);
  EXPECT_EQ(net::to_string(admitted->endpoints.client), "10.1.1.1:40000");
  EXPECT_EQ(net::to_string(admitted->endpoints.local), "10.2.2.2:25");
  EXPECT_EQ(std::string(admitted->early_data.begin(), admitted->early_data.end()), "EHLO early");
}

TEST_F(FrontDoorTest, ProxyHeaderFromAPeerOutsideProxyFromIsRefusedAsAcl) {
  cfg_.accept_proxy = true;
  cfg_.proxy_from = {cidr("10.0.0.0/8")};
  FrontDoor door(cfg_, stats_);
  auto client = connect();
  send(client, "PROXY TCP4 10.1.1.1 10.2.2.2 40000 25\r\n");
  EXPECT_FALSE(admit(door));
  EXPECT_EQ(rejected(RejectReason::acl), 1u);
  EXPECT_EQ(stats_.connections_total.load(), 0u);
  EXPECT_TRUE(closed_by_peer(client));
}

TEST_F(FrontDoorTest, AllowAppliesToTheAddressInTheHeader) {
  cfg_.accept_proxy = true;
  cfg_.allow = {cidr("10.0.0.0/8")};  // the peer (127.0.0.1) is not in it
  FrontDoor door(cfg_, stats_);
  auto inside = connect();
  send(inside, "PROXY TCP4 10.1.1.1 10.2.2.2 40000 25\r\n");
  EXPECT_TRUE(admit(door));
  auto outside = connect();
  send(outside, "PROXY TCP4 192.0.2.1 10.2.2.2 40000 25\r\n");
  EXPECT_FALSE(admit(door));
  EXPECT_EQ(rejected(RejectReason::acl), 1u);
}

TEST_F(FrontDoorTest, LocalHeaderKeepsTheSocketsOwnEnds) {
  cfg_.accept_proxy = true;
  FrontDoor door(cfg_, stats_);
  auto client = connect();
  // v2 LOCAL: signature, version 2 / command LOCAL, family unspecified, no addresses.
  const std::string local("\r\n\r\n\0\r\nQUIT\n\x20\x00\x00\x00", 16);
  send(client, local);
  const auto admitted = admit(door);
  ASSERT_TRUE(admitted);
  EXPECT_EQ(admitted->endpoints.client, client.local_endpoint());
}

TEST_F(FrontDoorTest, GarbageInsteadOfAHeaderIsCountedAsProxyHeader) {
  cfg_.accept_proxy = true;
  FrontDoor door(cfg_, stats_);
  auto client = connect();
  send(client, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_FALSE(admit(door));
  EXPECT_EQ(rejected(RejectReason::proxy_header), 1u);
}

TEST_F(FrontDoorTest, NoHeaderWithinTheTimeoutIsCountedAsProxyHeader) {
  cfg_.accept_proxy = true;
  cfg_.proxy_header_timeout = 100ms;
  FrontDoor door(cfg_, stats_);
  auto client = connect();
  const auto started = std::chrono::steady_clock::now();
  EXPECT_FALSE(admit(door));
  EXPECT_LT(std::chrono::steady_clock::now() - started, 3s);
  EXPECT_EQ(rejected(RejectReason::proxy_header), 1u);
  EXPECT_EQ(stats_.active.load(), 0);
}

// The race the header's deadline must survive: the timer fires in the same
// turn of the event loop in which one read completes and the next one starts
// at once (a v2 header longer than the first read's 256 bytes: the second
// read completes speculatively and is queued behind the timer, whose cancel()
// then finds nothing pending). The read after those must not start.
TEST_F(FrontDoorTest, AHeaderStillIncompleteWhenItsDeadlinePassesIsRefusedAtOnce) {
  cfg_.accept_proxy = true;
  cfg_.proxy_header_timeout = 50ms;
  FrontDoor door(cfg_, stats_);
  auto client = connect();
  Pending p;
  start_admit(door, p);  // it now waits for the header's first bytes
  // v2, PROXY over TCP4, announcing 1000 bytes of addresses and TLVs; 300 of them come.
  std::string header("\r\n\r\n\0\r\nQUIT\n\x21\x11\x03\xe8", 16);
  header.append(300, '\0');
  send(client, header);
  std::this_thread::sleep_for(150ms);  // past the deadline, the event loop not running
  ASSERT_TRUE(finish(p)) << "a read started after the header's deadline waits unbounded";
  EXPECT_FALSE(p.out);
  EXPECT_EQ(rejected(RejectReason::proxy_header), 1u);
}

TEST_F(FrontDoorTest, ConnectionsWaitingForAHeaderCountAgainstMaxConnections) {
  cfg_.accept_proxy = true;
  cfg_.max_connections = 1;
  cfg_.proxy_header_timeout = 10s;
  FrontDoor door(cfg_, stats_);
  auto silent = connect();
  Pending first;
  start_admit(door, first);  // it waits for its header, holding the one slot
  EXPECT_EQ(stats_.active.load(), 1);
  auto second = connect();
  send(second, "PROXY TCP4 10.1.1.1 10.2.2.2 40000 25\r\n");
  EXPECT_FALSE(admit(door));
  EXPECT_EQ(rejected(RejectReason::limit), 1u);
  EXPECT_TRUE(closed_by_peer(second));
  // The first one's header comes: it keeps its slot and is admitted.
  send(silent, "PROXY TCP4 10.1.1.2 10.2.2.2 40000 25\r\n");
  ASSERT_TRUE(finish(first));
  ASSERT_TRUE(first.out);
  EXPECT_EQ(stats_.active.load(), 1);
  EXPECT_EQ(stats_.connections_total.load(), 1u);
  first.out.reset();
  EXPECT_EQ(stats_.active.load(), 0);
}

TEST_F(FrontDoorTest, ThePerSourceLimitAppliesToTheHeadersClientNotThePeer) {
  cfg_.accept_proxy = true;
  cfg_.max_connections_per_source = 1;
  FrontDoor door(cfg_, stats_);
  // Two clients behind the same trusted peer: both are admitted.
  auto a = connect();
  send(a, "PROXY TCP4 10.1.1.1 10.2.2.2 40000 25\r\n");
  auto first = admit(door);
  ASSERT_TRUE(first);
  auto b = connect();
  send(b, "PROXY TCP4 10.1.1.2 10.2.2.2 40000 25\r\n");
  auto second = admit(door);
  ASSERT_TRUE(second);
  // A second connection of the same client is over its limit.
  auto c = connect();
  send(c, "PROXY TCP4 10.1.1.1 10.2.2.2 40001 25\r\n");
  EXPECT_FALSE(admit(door));
  EXPECT_EQ(rejected(RejectReason::limit), 1u);
  EXPECT_EQ(stats_.active.load(), 2);
  first.reset();  // its client's share is free again
  auto d = connect();
  send(d, "PROXY TCP4 10.1.1.1 10.2.2.2 40002 25\r\n");
  EXPECT_TRUE(admit(door));
}

TEST_F(FrontDoorTest, WaitForFirstByteClosesASilentClient) {
  cfg_.client_first_byte_timeout = 100ms;
  FrontDoor door(cfg_, stats_);
  auto client = connect();
  EXPECT_FALSE(admit(door, {FirstByte::wait, false}));
  EXPECT_EQ(stats_.active.load(), 0);
  EXPECT_TRUE(closed_by_peer(client));
}

TEST_F(FrontDoorTest, WaitForFirstByteHandsOverAClientThatSpoke) {
  cfg_.client_first_byte_timeout = 2s;
  FrontDoor door(cfg_, stats_);
  auto client = connect();
  send(client, "G");
  auto admitted = admit(door, {FirstByte::wait, false});
  ASSERT_TRUE(admitted);
  // The byte is still there for the protocol to read.
  char c = 0;
  admitted->socket.read_some(asio::buffer(&c, 1));
  EXPECT_EQ(c, 'G');
}

TEST_F(FrontDoorTest, DeadlinePolicyHandsOverAtOnce) {
  cfg_.client_first_byte_timeout = 10s;
  FrontDoor door(cfg_, stats_);
  auto client = connect();
  const auto started = std::chrono::steady_clock::now();
  EXPECT_TRUE(admit(door, {FirstByte::deadline, false}));
  EXPECT_LT(std::chrono::steady_clock::now() - started, 2s);
}

}  // namespace
}  // namespace sb::runtime
