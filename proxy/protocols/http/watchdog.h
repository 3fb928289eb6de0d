#pragma once
// The deadline of whatever one HTTP connection is doing now (receiving a
// request's headers, waiting for a response, moving body bytes): one timer
// per connection, re-armed per step, so that every read and every write has
// a deadline (docs/configuration.md, `request-timeout`, `response-timeout`,
// `idle-timeout`).
//
// When it passes, the socket's pending operations are cancelled and
// expired() turns true. A composed operation (Beast's reads, a TLS write)
// may start its next step after that cancel and would run unbounded; so the
// watchdog comes back a second later and shuts the socket down if the step
// is still armed, and every later operation on it fails at once.
//
// `co_await stop()` before the watchdog goes out of scope: its handlers
// point at it.

#include <chrono>

#include "net/stream.h"
#include "proxy/asio.h"

namespace sb::runtime::http {

class Watchdog {
 public:
  explicit Watchdog(tcp::socket& socket) : socket_(&socket), timer_(socket.get_executor()) {}
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  // The socket moved (a connection taken from the keep-alive pool).
  void watch(tcp::socket& socket) { socket_ = &socket; }

  void arm(std::chrono::steady_clock::duration timeout) {
    expired_ = false;
    start(timeout, false);
  }
  void disarm() {
    ++generation_;  // a handler already queued as expired is stale now
    if (armed_) timer_.cancel();
    armed_ = false;
  }
  bool expired() const { return expired_; }

  awaitable<void> stop() {
    disarm();
    while (pending_ > 0) co_await asio::post(timer_.get_executor(), asio::use_awaitable);
  }

 private:
  void start(std::chrono::steady_clock::duration timeout, bool second_stage) {
    armed_ = true;
    const unsigned generation = ++generation_;
    timer_.expires_after(timeout);  // aborts a pending wait
    ++pending_;
    timer_.async_wait([this, second_stage, generation](const error_code& ec) {
      --pending_;
      if (ec || generation != generation_) return;
      error_code ignored;
      if (second_stage) {
        socket_->shutdown(tcp::socket::shutdown_both, ignored);
        armed_ = false;
        return;
      }
      expired_ = true;
      socket_->cancel(ignored);
      start(std::chrono::seconds(1), true);
    });
  }

  tcp::socket* socket_;
  asio::steady_timer timer_;
  int pending_ = 0;
  unsigned generation_ = 0;
  bool armed_ = false;
  bool expired_ = false;
};

}  // namespace sb::runtime::http
