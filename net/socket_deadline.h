#pragma once
// A deadline for the operations of one socket inside a coroutine (health
// probes, and the proxy's connector, which uses it too): when it
// passes, the socket's pending operations are cancelled (they complete with
// operation_aborted) and expired() turns true.
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
// started after it (the next step of a dialogue, or of a composed read,
// whose previous step had completed just then) would run with no deadline,
// so a probe asks for its socket to be shut down too: every later operation
// on it then fails at once. Not for the proxy's connector, whose connection
// may have been made in that same instant and must live on.

#include <chrono>

#include <boost/asio.hpp>

namespace sb::net {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

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
    timer_.async_wait([this, on_expiry](const boost::system::error_code& ec) {
      handler_ran_ = true;
      if (ec) return;
      expired_ = true;
      boost::system::error_code ignored;
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

  asio::awaitable<void> disarm() {
    timer_.cancel();
    // The handler is queued (cancelled or expired just now); on this
    // single-threaded io_context one turn of the queue runs it.
    while (!handler_ran_) co_await asio::post(timer_.get_executor(), asio::use_awaitable);
  }

 private:
  Socket& socket_;
  asio::steady_timer timer_;
  bool handler_ran_ = false;
  bool expired_ = false;
};

using SocketDeadline = BasicSocketDeadline<tcp::socket>;

}  // namespace sb::net
