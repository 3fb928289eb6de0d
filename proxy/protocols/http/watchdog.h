#pragma once
// The deadline of whatever one side of an HTTP connection is doing now
// (receiving a request's headers, waiting for a response, moving body
// bytes), re-armed per step, so that every read and every write has a
// deadline (docs/configuration.md, `request-timeout`, `response-timeout`,
// `idle-timeout`).
//
// Arming costs a clock read, not a timer operation: the one timer of a
// watchdog stays scheduled at the earliest deadline it was armed with; when
// it fires it compares the clock with the current deadline and waits again
// if that lies later (a step was re-armed meanwhile) or stops if nothing is
// armed. Deadlines of the same length only ever move later, so a connection
// serving thousands of requests a minute wakes its timer about once per
// shortest timeout, not once per request. Only arming with a deadline
// earlier than the scheduled one moves the timer.
//
// When the deadline passes, the socket's pending operations are cancelled
// and expired() turns true. A composed operation (Beast's reads, a TLS
// write) may start its next step after that cancel and would run unbounded;
// so the watchdog comes back a second later and shuts the socket down if
// the same step is still armed, and every later operation on it fails.
//
// `co_await stop()` before the watchdog goes out of scope: its handlers
// point at it.

#include <chrono>

#include "net/stream.h"
#include "proxy/asio.h"

namespace sb::runtime::http {

class Watchdog {
 public:
  using Clock = std::chrono::steady_clock;

  explicit Watchdog(tcp::socket& socket) : socket_(&socket), timer_(socket.get_executor()) {}
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  // The socket moved (another server connection for the next request).
  void watch(tcp::socket& socket) { socket_ = &socket; }

  void arm(Clock::duration timeout) {
    expired_ = false;
    armed_ = true;
    ++step_;
    deadline_ = Clock::now() + timeout;
    if (!waiting_ || deadline_ < scheduled_) wait_until(deadline_);
  }
  void disarm() { armed_ = false; }
  bool expired() const { return expired_; }

  awaitable<void> stop() {
    armed_ = false;
    stopped_ = true;
    timer_.cancel();
    grace_.cancel();
    while (pending_ > 0) co_await asio::post(timer_.get_executor(), asio::use_awaitable);
  }

 private:
  void wait_until(Clock::time_point when) {
    waiting_ = true;
    scheduled_ = when;
    timer_.expires_at(when);  // aborts a pending wait, whose handler then does nothing
    ++pending_;
    const unsigned schedule = ++schedules_;
    timer_.async_wait([this, schedule](const error_code& ec) {
      --pending_;
      if (ec || schedule != schedules_ || stopped_) return;  // replaced by a later wait_until
      waiting_ = false;
      if (!armed_) return;
      if (Clock::now() < deadline_) {
        wait_until(deadline_);  // re-armed since: sleep on
        return;
      }
      expire();
    });
  }

  void expire() {
    expired_ = true;
    error_code ignored;
    socket_->cancel(ignored);
    // The second look, for a composed operation that started a new step
    // after the cancel: the same step still armed a second later is stuck.
    const unsigned step = step_;
    ++pending_;
    grace_.expires_after(std::chrono::seconds(1));
    grace_.async_wait([this, step](const error_code& ec) {
      --pending_;
      if (ec || stopped_ || !armed_ || step != step_) return;
      error_code ignored;
      socket_->shutdown(tcp::socket::shutdown_both, ignored);
    });
  }

  tcp::socket* socket_;
  asio::steady_timer timer_;
  asio::steady_timer grace_{timer_.get_executor()};
  Clock::time_point deadline_{};
  Clock::time_point scheduled_{};
  int pending_ = 0;
  unsigned schedules_ = 0;
  unsigned step_ = 0;
  bool waiting_ = false;
  bool armed_ = false;
  bool expired_ = false;
  bool stopped_ = false;
};

}  // namespace sb::runtime::http
