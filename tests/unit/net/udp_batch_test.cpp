// UdpBatch over real loopback sockets: batches of at most kSize, each reply to
// the source of its own datagram, and a drained socket reads as 0.
#include "net/udp_batch.h"

#include <gtest/gtest.h>

#include <string>

namespace sb::net {
namespace {

class UdpBatchTest : public ::testing::Test {
 protected:
  asio::io_context io;
  udp::socket server{io, udp::endpoint(asio::ip::make_address("127.0.0.1"), 0)};

  udp::socket client() {
    return udp::socket(io, udp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  }

  static std::string text(std::span<const std::uint8_t> b) { return {b.begin(), b.end()}; }
};

TEST_F(UdpBatchTest, AnEmptySocketReadsAsNothing) {
  UdpBatch batch(512, 512);
  EXPECT_EQ(batch.receive(server.native_handle()), 0u);
  EXPECT_EQ(batch.send(server.native_handle()), 0u);
}

TEST_F(UdpBatchTest, ReadsAtMostABatchAndTheRestNextTime) {
  udp::socket c = client();
  const std::size_t total = UdpBatch::kSize + 8;
  for (std::size_t i = 0; i < total; ++i) {
    const std::string m = "q" + std::to_string(i);
    c.send_to(asio::buffer(m), server.local_endpoint());
  }
  UdpBatch batch(512, 512);
  ASSERT_EQ(batch.receive(server.native_handle()), UdpBatch::kSize);
  EXPECT_EQ(text(batch.datagram(0)), "q0");
  EXPECT_EQ(text(batch.datagram(UdpBatch::kSize - 1)), "q" + std::to_string(UdpBatch::kSize - 1));
  EXPECT_EQ(batch.source(3), c.local_endpoint());
  ASSERT_EQ(batch.receive(server.native_handle()), 8u);
  EXPECT_EQ(text(batch.datagram(7)), "q" + std::to_string(total - 1));
  EXPECT_EQ(batch.receive(server.native_handle()), 0u);
}

TEST_F(UdpBatchTest, EachReplyGoesToTheSourceOfItsDatagram) {
  udp::socket a = client();
  udp::socket b = client();
  a.send_to(asio::buffer(std::string("from-a")), server.local_endpoint());
  b.send_to(asio::buffer(std::string("from-b")), server.local_endpoint());
  a.send_to(asio::buffer(std::string("drop-me")), server.local_endpoint());
  UdpBatch batch(512, 512);
  ASSERT_EQ(batch.receive(server.native_handle()), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    const std::string in = text(batch.datagram(i));
    if (in == "drop-me") continue;  // no reply queued: nothing is sent for it
    const std::string out = "re:" + in;
    auto buf = batch.reply_buffer(i);
    std::copy(out.begin(), out.end(), buf.begin());
    batch.reply(i, out.size());
  }
  EXPECT_EQ(batch.send(server.native_handle()), 0u);
  std::array<char, 64> got{};
  udp::endpoint from;
  std::size_t n = a.receive_from(asio::buffer(got), from);
  EXPECT_EQ(std::string(got.data(), n), "re:from-a");
  EXPECT_EQ(from, server.local_endpoint());
  n = b.receive_from(asio::buffer(got), from);
  EXPECT_EQ(std::string(got.data(), n), "re:from-b");
  a.non_blocking(true);
  error_code ec;
  a.receive_from(asio::buffer(got), from, 0, ec);
  EXPECT_EQ(ec, asio::error::would_block) << "a got a reply to the datagram that had none";
}

TEST_F(UdpBatchTest, ADatagramLongerThanTheBufferIsCutToIt) {
  udp::socket c = client();
  c.send_to(asio::buffer(std::string(100, 'x')), server.local_endpoint());
  UdpBatch batch(16, 16);
  ASSERT_EQ(batch.receive(server.native_handle()), 1u);
  EXPECT_EQ(batch.datagram(0).size(), 16u);
}

}  // namespace
}  // namespace sb::net
