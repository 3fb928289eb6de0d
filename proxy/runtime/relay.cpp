#include "proxy/runtime/relay.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>

#include <cerrno>

namespace sb::runtime {
namespace {

using Clock = std::chrono::steady_clock;

enum class PumpEnd { eof, error, cancelled };

// One direction. `counter` is the server-side byte counter for this direction.
struct Direction {
  tcp::socket& from;
  tcp::socket& to;
  std::uint64_t bytes = 0;
  std::atomic<std::uint64_t>& counter;
};

// Reads until the kernel says "would block", then waits for readability with
// no buffer held. Asio's reactor is edge-triggered, so a wait is only correct
// once the socket has been drained.
awaitable<PumpEnd> pump_copy(Worker& w, Direction& d, Clock::time_point& last_activity) {
  for (;;) {
    std::size_t n = 0;
    {
      auto buf = w.buffers().acquire();
      error_code ec;
      n = d.from.read_some(asio::buffer(buf.data(), buf.size()), ec);
      if (ec == asio::error::would_block || ec == asio::error::try_again) {
        n = static_cast<std::size_t>(-1);
      } else if (ec == asio::error::eof) {
        co_return PumpEnd::eof;
      } else if (ec) {
        co_return ec == asio::error::operation_aborted ? PumpEnd::cancelled : PumpEnd::error;
      } else {
        last_activity = Clock::now();
        d.bytes += n;
        d.counter.fetch_add(n, std::memory_order_relaxed);
        auto [wec, written] =
            co_await asio::async_write(d.to, asio::buffer(buf.data(), n), use_nothrow);
        if (wec) {
          co_return wec == asio::error::operation_aborted ? PumpEnd::cancelled : PumpEnd::error;
        }
        last_activity = Clock::now();
      }
    }
    if (n == static_cast<std::size_t>(-1)) {
      auto [ec] = co_await d.from.async_wait(tcp::socket::wait_read, use_nothrow);
      if (ec) co_return ec == asio::error::operation_aborted ? PumpEnd::cancelled : PumpEnd::error;
    }
  }
}

// The same with splice(2): socket -> pipe -> socket, no copy to user space.
awaitable<PumpEnd> pump_splice(Worker& w, Direction& d, Clock::time_point& last_activity) {
  constexpr std::size_t kChunk = 64 * 1024;  // the default pipe capacity
  const int in_fd = d.from.native_handle();
  const int out_fd = d.to.native_handle();
  for (;;) {
    auto pipe = w.pipes().acquire();
    if (!pipe.valid()) co_return PumpEnd::error;  // out of descriptors
    const ssize_t n = ::splice(in_fd, nullptr, pipe.write_fd(), nullptr, kChunk,
                               SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (n == 0) co_return PumpEnd::eof;
    if (n < 0) {
      if (errno != EAGAIN) co_return PumpEnd::error;
      // Nothing to read: give the pipe back before waiting.
      { auto released = std::move(pipe); }
      auto [ec] = co_await d.from.async_wait(tcp::socket::wait_read, use_nothrow);
      if (ec) co_return ec == asio::error::operation_aborted ? PumpEnd::cancelled : PumpEnd::error;
      continue;
    }
    last_activity = Clock::now();
    d.bytes += static_cast<std::uint64_t>(n);
    d.counter.fetch_add(static_cast<std::uint64_t>(n), std::memory_order_relaxed);
    std::size_t left = static_cast<std::size_t>(n);
    while (left > 0) {
      const ssize_t m = ::splice(pipe.read_fd(), nullptr, out_fd, nullptr, left,
                                 SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (m > 0) {
        left -= static_cast<std::size_t>(m);
        continue;
      }
      if (m < 0 && errno == EAGAIN) {
        auto [ec] = co_await d.to.async_wait(tcp::socket::wait_write, use_nothrow);
        if (!ec) continue;
        pipe.discard();
        co_return ec == asio::error::operation_aborted ? PumpEnd::cancelled : PumpEnd::error;
      }
      pipe.discard();
      co_return PumpEnd::error;
    }
    last_activity = Clock::now();
  }
}

awaitable<PumpEnd> pump(Worker& w, Direction& d, Clock::time_point& last_activity) {
  const PumpEnd end = w.relay_mode() == RelayMode::splice
                          ? co_await pump_splice(w, d, last_activity)
                          : co_await pump_copy(w, d, last_activity);
  error_code ignored;
  if (end == PumpEnd::eof) {
    // Half-close: pass the end of this direction on, keep the other open.
    d.to.shutdown(tcp::socket::shutdown_send, ignored);
  } else if (end == PumpEnd::error) {
    // A reset on one side ends the whole connection; closing both sockets
    // ends the other direction's pending wait too.
    d.from.close(ignored);
    d.to.close(ignored);
  }
  co_return end;
}

// Completes when nothing has moved for `idle`; re-arms while traffic flows.
awaitable<void> idle_watchdog(std::chrono::milliseconds idle, const Clock::time_point& last) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  for (;;) {
    timer.expires_at(last + idle);
    auto [ec] = co_await timer.async_wait(use_nothrow);
    if (ec) co_return;
    if (Clock::now() >= last + idle) co_return;
  }
}

}  // namespace

awaitable<RelayResult> relay(Worker& worker, tcp::socket& client, tcp::socket& server,
                             std::chrono::milliseconds idle_timeout, balancer::ServerStats& stats) {
  error_code ignored;
  client.non_blocking(true, ignored);
  server.non_blocking(true, ignored);
  Direction up{client, server, 0, stats.bytes_out};
  Direction down{server, client, 0, stats.bytes_in};
  Clock::time_point last_activity = Clock::now();

  auto done = co_await ((pump(worker, up, last_activity) && pump(worker, down, last_activity)) ||
                        idle_watchdog(idle_timeout, last_activity));

  RelayResult r;
  r.from_client = up.bytes;
  r.to_client = down.bytes;
  if (done.index() == 1) {
    r.outcome = "idle-timeout";
    client.close(ignored);
    server.close(ignored);
  } else {
    auto [a, b] = std::get<0>(done);
    if (a == PumpEnd::error) {
      r.outcome = "client-reset";
    } else if (b == PumpEnd::error) {
      r.outcome = "server-reset";
    } else {
      r.outcome = "ok";
    }
  }
  co_return r;
}

}  // namespace sb::runtime
