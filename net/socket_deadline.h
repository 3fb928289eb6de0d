#pragma once
// A deadline for the operations of one socket inside a coroutine (health
// probes, and the proxy's connector, PROXY header reader and SMTP greeting):
// when it passes, the socket's pending operations are cancelled (they
// complete with operation_aborted) and expired() turns true.
//
// Why not `op || timer.async_wait()`: the awaitable operators spawn a
// parallel group and two child coroutines for every operation, which on the
// per-connection path (connect, PROXY header) cost more CPU than the rest of
// the connection set-up. This is one timer wait.
//
// Always `co_await disarm()` before the deadline goes out of scope: it makes
// sure the timer's handler has run, so that it can never touch the socket
// (or this object) later.
//
// cancel() reaches only the operations pending when the deadline passes. One
// started after it (the next step of a dialogue, whose previous step had
// completed in the same turn of the event loop as the timer) would run with
// no deadline. So every operation after the first goes through read_some()
// or write() here, which start nothing once the deadline has passed; or the
// caller checks expired() itself before starting one. A probe asks for its
// socket to be shut down too (OnExpiry::cancel_and_shutdown): every later
// operation on it, inside composed ones included, then fails at once. Not
// for the proxy, whose connection may have been made (or header read) in
// that same instant and must live on.

#include <chrono>
#include <cstddef>
#include <tuple>

#include "net/asio.h"

namespace sb::net {

// Socket: any Asio socket (tcp for the connector and most probes, udp for
// SIP OPTIONS over UDP).
enum class OnExpiry { cancel, cancel_and_shutdown };

template <class Socket>
class BasicSocketDeadline {
 public:
  BasicSocketDeadline(Socket& socket, std::chrono::steady_clock::duration timeout,
                      OnExpiry on_expiry = OnExpiry::cancel)
      : socket_(socket), timer_(socket.get_executor()) {
    timer_.expires_after(timeout);
    timer_.async_wait([this, on_expiry](const error_code& ec) {
      handler_ran_ = true;
      if (ec) return;
      expired_ = true;
      error_code ignored;
      socket_.cancel(ignored);
      if (on_expiry == OnExpiry::cancel_and_shutdown) {
        socket_.shutdown(Socket::shutdown_both, ignored);
      }
    });
  }
  BasicSocketDeadline(const BasicSocketDeadline&) = delete;
  BasicSocketDeadline& operator=(const BasicSocketDeadline&) = delete;

  bool expired() const { return expired_; }
  // For code that checks later, after the operation it guards has failed.
  const bool& expired_flag() const { return expired_; }

  // One async_read_some within the deadline. Once it has passed: timed_out
  // at once, and nothing is started. A read it cancels reports timed_out too.
  template <class MutableBuffers>
  awaitable<std::tuple<error_code, std::size_t>> read_some(const MutableBuffers& buffers) {
    if (expired_) co_return std::tuple(error_code(asio::error::timed_out), std::size_t{0});
    auto [ec, n] = co_await socket_.async_read_some(buffers, use_nothrow);
    co_return std::tuple(timed_out_if_expired(ec), n);
  }

  // All of `data` within the deadline, one write_some at a time so that no
  // step starts after it passed (asio::async_write would start the next
  // step of its own). Returns the bytes written, also on timed_out.
  awaitable<std::tuple<error_code, std::size_t>> write(asio::const_buffer data) {
    std::size_t written = 0;
    while (written < data.size()) {
      if (expired_) co_return std::tuple(error_code(asio::error::timed_out), written);
      auto [ec, n] = co_await socket_.async_write_some(data + written, use_nothrow);
      written += n;
      if (ec) co_return std::tuple(timed_out_if_expired(ec), written);
    }
    co_return std::tuple(error_code(), written);
  }

  awaitable<void> disarm() {
    timer_.cancel();
    // The handler is queued (cancelled or expired just now); on this
    // single-threaded io_context one turn of the queue runs it.
    while (!handler_ran_) co_await asio::post(timer_.get_executor(), asio::use_awaitable);
  }

 private:
  error_code timed_out_if_expired(const error_code& ec) const {
    return ec && expired_ ? error_code(asio::error::timed_out) : ec;
  }

  Socket& socket_;
  asio::steady_timer timer_;
  bool handler_ran_ = false;
  bool expired_ = false;
};

using SocketDeadline = BasicSocketDeadline<tcp::socket>;

}  // namespace sb::net
