// SocketDeadline and write_within on real loopback sockets: an operation
// started after the deadline passed fails at once (cancel() alone reaches
// only the operations pending when it fires), a pending one is cancelled at
// the deadline, and a peer that never reads cannot hold a write past it.
#include "net/socket_deadline.h"

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "net/write_within.h"

namespace sb::net {
namespace {

using namespace std::chrono_literals;

class SocketDeadlineTest : public ::testing::Test {
 protected:
  SocketDeadlineTest() {
    acceptor_.open(tcp::v4());
    acceptor_.bind({asio::ip::make_address("127.0.0.1"), 0});
    acceptor_.listen();
    peer_.connect(acceptor_.local_endpoint());
    acceptor_.accept(socket_);
  }

  // Runs the io_context until `done` or `limit` has passed; false on the latter.
  bool run_until(const bool& done, std::chrono::steady_clock::duration limit = 5s) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (!done && std::chrono::steady_clock::now() < end) io_.run_one_for(20ms);
    io_.restart();
    return done;
  }

  // Runs `body` as a coroutine to its end (or `limit`); false on the latter.
  template <class Body>
  bool run(Body body, std::chrono::steady_clock::duration limit = 5s) {
    bool done = false;
    asio::co_spawn(
        io_,
        [&]() -> awaitable<void> {
          co_await body();
          done = true;
        },
        asio::detached);
    return run_until(done, limit);
  }

  // A send buffer and a peer's receive buffer as small as the kernel allows,
  // so that a write to a peer that never reads blocks early.
  void shrink_buffers() {
    socket_.set_option(asio::socket_base::send_buffer_size(4096));
    peer_.set_option(asio::socket_base::receive_buffer_size(4096));
  }

  asio::io_context io_;
  tcp::acceptor acceptor_{io_};
  tcp::socket peer_{io_};
  tcp::socket socket_{io_};
};

TEST_F(SocketDeadlineTest, AReadStartedAfterTheDeadlinePassedFailsAtOnce) {
  std::optional<SocketDeadline> deadline;
  deadline.emplace(socket_, 1ms);
  // The deadline passes while no operation is pending: its cancel() has
  // nothing to reach.
  ASSERT_TRUE(run_until(deadline->expired_flag()));
  error_code ec;
  // The peer sends nothing: a read that started would wait forever.
  EXPECT_TRUE(run(
      [&]() -> awaitable<void> {
        char c;
        auto [rec, n] = co_await deadline->read_some(asio::buffer(&c, 1));
        ec = rec;
        co_await deadline->disarm();
      },
      2s))
      << "the read started after the deadline did not fail";
  EXPECT_EQ(ec, asio::error::timed_out);
}

TEST_F(SocketDeadlineTest, APendingReadIsCancelledAtTheDeadlineAsTimedOut) {
  error_code ec;
  ASSERT_TRUE(run([&]() -> awaitable<void> {
    SocketDeadline deadline(socket_, 50ms);
    char c;
    auto [rec, n] = co_await deadline.read_some(asio::buffer(&c, 1));
    ec = rec;
    co_await deadline.disarm();
  }));
  EXPECT_EQ(ec, asio::error::timed_out);
}

TEST_F(SocketDeadlineTest, AReadInTimeIsNotAffected) {
  asio::write(peer_, asio::buffer(std::string("hello")));
  std::string got;
  ASSERT_TRUE(run([&]() -> awaitable<void> {
    SocketDeadline deadline(socket_, 5s);
    char buf[16];
    auto [rec, n] = co_await deadline.read_some(asio::buffer(buf));
    if (!rec) got.assign(buf, n);
    co_await deadline.disarm();
  }));
  EXPECT_EQ(got, "hello");
}

TEST_F(SocketDeadlineTest, AWriteToAPeerThatNeverReadsEndsAtTheDeadline) {
  shrink_buffers();
  const std::vector<char> data(8 * 1024 * 1024, 'x');
  error_code ec;
  std::size_t written = 0;
  ASSERT_TRUE(run([&]() -> awaitable<void> {
    SocketDeadline deadline(socket_, 100ms);
    std::tie(ec, written) = co_await deadline.write(asio::buffer(data));
    co_await deadline.disarm();
  }));
  EXPECT_EQ(ec, asio::error::timed_out);
  EXPECT_LT(written, data.size());
}

TEST_F(SocketDeadlineTest, WriteWithinWritesWhatFitsAtOnce) {
  error_code ec;
  std::size_t written = 0;
  ASSERT_TRUE(run([&]() -> awaitable<void> {
    std::tie(ec, written) =
        co_await write_within(socket_, asio::buffer(std::string_view("220 hi\r\n")), 5s);
  }));
  EXPECT_FALSE(ec);
  EXPECT_EQ(written, 8u);
  char buf[8];
  asio::read(peer_, asio::buffer(buf));
  EXPECT_EQ(std::string(buf, 8), "220 hi\r\n");
}

TEST_F(SocketDeadlineTest, WriteWithinGivesUpOnAPeerThatNeverReads) {
  shrink_buffers();
  const std::vector<char> data(8 * 1024 * 1024, 'x');
  error_code ec;
  std::size_t written = 0;
  ASSERT_TRUE(run([&]() -> awaitable<void> {
    std::tie(ec, written) = co_await write_within(socket_, asio::buffer(data), 100ms);
  }));
  EXPECT_EQ(ec, asio::error::timed_out);
  EXPECT_LT(written, data.size());
}

}  // namespace
}  // namespace sb::net
