// ReadableWait and the non-blocking sockets of native_socket.h on real
// loopback sockets: the wait completes when bytes or the end of stream come
// after an EAGAIN (without a re-arm), not before; closing the socket ends it
// with operation_aborted; an io_context destroyed with a wait pending
// releases what the wait held; accept4 and socket(SOCK_NONBLOCK) give
// descriptors that are non-blocking and that Asio knows to be.
#include "net/readable_wait.h"

#include <fcntl.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <optional>

#include <boost/asio/write.hpp>

#include "net/native_socket.h"

namespace sb::net {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;
using namespace std::chrono_literals;

bool fd_non_blocking(int fd) {
  return (::fcntl(fd, F_GETFL) & O_NONBLOCK) != 0;
}

// The socket's buffer is empty: a read fails with EAGAIN (the wait's
// precondition).
void drain(tcp::socket& s) {
  char buf[256];
  while (::recv(s.native_handle(), buf, sizeof buf, MSG_DONTWAIT) > 0) {
  }
  ASSERT_EQ(errno, EAGAIN);
}

class ReadableWaitTest : public ::testing::Test {
 protected:
  ReadableWaitTest() {
    acceptor_.open(tcp::v4());
    acceptor_.bind({asio::ip::make_address("127.0.0.1"), 0});
    acceptor_.listen();
    peer_.connect(acceptor_.local_endpoint());
    tcp::endpoint from;
    // The connection is there (connect returned): accept4 takes it at once.
    const error_code ec = accept_nonblocking(acceptor_, socket_, from);
    EXPECT_FALSE(ec) << ec.message();
    EXPECT_EQ(from, peer_.local_endpoint());
  }

  void run_for(std::chrono::milliseconds d) {
    io_.restart();
    io_.run_for(d);
  }

  struct Seen {
    int calls = 0;
    std::optional<error_code> ec;
  };
  static void record(void* owner, ReadableWait&, const error_code& ec) {
    auto* seen = static_cast<Seen*>(owner);
    ++seen->calls;
    seen->ec = ec;
  }

  asio::io_context io_;
  Reactor reactor_{io_};
  tcp::acceptor acceptor_{io_};
  tcp::socket peer_{io_};
  tcp::socket socket_{io_};
  Seen seen_;
  ReadableWait wait_{&seen_, &ReadableWaitTest::record};
};

TEST_F(ReadableWaitTest, AcceptedSocketsAreNonBlockingAndAsioKnows) {
  EXPECT_TRUE(fd_non_blocking(socket_.native_handle()));
  EXPECT_TRUE(socket_.native_non_blocking());
  tcp::socket opened(io_);
  ASSERT_FALSE(open_nonblocking(opened, tcp::v4()));
  EXPECT_TRUE(fd_non_blocking(opened.native_handle()));
  EXPECT_TRUE(opened.native_non_blocking());
  EXPECT_EQ(::fcntl(opened.native_handle(), F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
  // Nobody waiting: would_block, not a wait.
  tcp::socket none(io_);
  tcp::endpoint from;
  EXPECT_EQ(accept_nonblocking(acceptor_, none, from), asio::error::would_block);
  EXPECT_FALSE(none.is_open());
}

TEST_F(ReadableWaitTest, CompletesWhenBytesComeAfterTheEagain) {
  drain(socket_);
  auto keep = std::make_shared<int>(1);
  wait_.start(socket_, reactor_, keep);
  EXPECT_TRUE(wait_.pending());
  EXPECT_EQ(keep.use_count(), 2);
  run_for(50ms);
  EXPECT_EQ(seen_.calls, 0);  // nothing to read yet
  asio::write(peer_, asio::buffer("x", 1));
  run_for(200ms);
  ASSERT_EQ(seen_.calls, 1);
  EXPECT_FALSE(*seen_.ec);
  EXPECT_FALSE(wait_.pending());
  EXPECT_EQ(keep.use_count(), 1);  // released after the callback

  // Again, on the same object: the next edge comes from the end of stream.
  drain(socket_);
  wait_.start(socket_, reactor_, keep);
  run_for(30ms);
  EXPECT_EQ(seen_.calls, 1);
  peer_.shutdown(tcp::socket::shutdown_send);
  run_for(200ms);
  EXPECT_EQ(seen_.calls, 2);
  EXPECT_FALSE(*seen_.ec);
}

TEST_F(ReadableWaitTest, AnEventNobodyWaitedForDoesNotCompleteAWaitAfterTheEagain) {
  // Bytes come while nothing waits; the reactor sees them (run) and marks
  // the socket for a speculative try; the caller then reads them all.
  asio::write(peer_, asio::buffer("abc", 3));
  socket_.async_wait(tcp::socket::wait_read, [](const error_code&) {});
  run_for(100ms);
  drain(socket_);
  wait_.start(socket_, reactor_, nullptr);
  run_for(50ms);
  EXPECT_EQ(seen_.calls, 0);
  asio::write(peer_, asio::buffer("d", 1));
  run_for(200ms);
  EXPECT_EQ(seen_.calls, 1);
}

TEST_F(ReadableWaitTest, ClosingTheSocketEndsTheWaitWithOperationAborted) {
  drain(socket_);
  auto keep = std::make_shared<int>(1);
  wait_.start(socket_, reactor_, keep);
  socket_.close();
  run_for(100ms);
  ASSERT_EQ(seen_.calls, 1);
  EXPECT_EQ(*seen_.ec, asio::error::operation_aborted);
  EXPECT_EQ(keep.use_count(), 1);
}

TEST(ReadableWaitShutdown, AnIoContextDestroyedWithTheEndQueuedReleasesTheHold) {
  // The shutdown of a worker past its grace period: sockets closed, their
  // waits' ends queued and never run, then the io_context goes.
  auto keep = std::make_shared<int>(1);
  int calls = 0;
  ReadableWait wait(&calls,
                    [](void* c, ReadableWait&, const error_code&) { ++*static_cast<int*>(c); });
  auto io = std::make_unique<asio::io_context>();
  {
    Reactor reactor(*io);
    tcp::acceptor acceptor(*io, {asio::ip::make_address("127.0.0.1"), 0});
    tcp::socket peer(*io);
    peer.connect(acceptor.local_endpoint());
    tcp::socket socket(*io);
    tcp::endpoint from;
    ASSERT_FALSE(accept_nonblocking(acceptor, socket, from));
    drain(socket);
    wait.start(socket, reactor, keep);
    EXPECT_EQ(keep.use_count(), 2);
  }  // closed: the wait's end is queued
  EXPECT_EQ(keep.use_count(), 2);
  io.reset();
  EXPECT_EQ(keep.use_count(), 1);
  EXPECT_EQ(calls, 0);
}

}  // namespace
}  // namespace sb::net
