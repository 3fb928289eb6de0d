#include "proxy/protocols/tcp/relay.h"

#include <fcntl.h>

#include <cerrno>

namespace sb::runtime {
namespace {

// The default pipe capacity: one splice moves at most this much.
constexpr std::size_t kSpliceChunk = 64 * 1024;
// Chunks a direction moves before it yields to other connections, so one
// bulk transfer cannot starve the worker (1 MiB with splice).
constexpr int kChunksPerTurn = 16;

}  // namespace

Relay::Relay(Worker& worker, tcp::socket client, tcp::socket server,
             std::chrono::milliseconds idle_timeout, balancer::ServerStats& stats)
    : worker_(worker),
      client_(std::move(client)),
      server_(std::move(server)),
      idle_timer_(worker.io()),
      idle_timeout_(idle_timeout),
      up_(this, &client_, &server_, worker.metrics_counting() ? &stats.bytes_out : nullptr,
          "client-reset"),
      down_(this, &server_, &client_, worker.metrics_counting() ? &stats.bytes_in : nullptr,
            "server-reset") {}

void Relay::start() {
  // The relay moves bytes with raw non-blocking syscalls. Both sockets are
  // non-blocking from their creation (accept4 and socket with SOCK_NONBLOCK,
  // net/native_socket.h); one that is not gets an ioctl, and Asio knows.
  error_code ignored;
  if (!client_.native_non_blocking()) client_.native_non_blocking(true, ignored);
  if (!server_.native_non_blocking()) server_.native_non_blocking(true, ignored);
  last_activity_ = Clock::now();
  arm_idle_timer();
  pump(up_);
  pump(down_);
}

void Relay::wait_write(Direction& d) {
  d.to->async_wait(tcp::socket::wait_write, [self = shared_from_this(), &d](const error_code& ec) {
    if (self->finished_) return;
    if (ec) {
      self->finish(d.error_outcome);
      return;
    }
    self->pump(d);
  });
}

void Relay::on_readable(void* owner, net::ReadableWait& wait, const error_code& ec) {
  auto* self = static_cast<Relay*>(owner);
  Direction& d = &wait == &self->up_.readable ? self->up_ : self->down_;
  if (self->finished_) return;
  if (ec) {
    self->finish(d.error_outcome);
    return;
  }
  self->pump(d);
}

void Relay::pump(Direction& d) {
  for (int chunk = 0; chunk < kChunksPerTurn; ++chunk) {
    switch (step(d)) {
      case Step::again:
        continue;
      case Step::wait_read:
        return d.readable.start(*d.from, worker_.reactor(), shared_from_this());
      case Step::wait_write:
        return wait_write(d);
      case Step::eof:
        return on_eof(d);
      case Step::error:
        return finish(d.error_outcome);
    }
  }
  // Fairness: let the worker serve others before moving more.
  asio::post(worker_.io(), [self = shared_from_this(), &d] {
    if (!self->finished_) self->pump(d);
  });
}

Relay::Step Relay::step(Direction& d) {
  switch (worker_.relay_mode()) {
    case config::RelayMode::copy:
      return step_copy(d);
    case config::RelayMode::splice:
      // A buffer in use: no pipe could be had, its bytes go on by copy.
      return d.buffer ? step_copy(d) : step_splice(d);
    case config::RelayMode::automatic:
      // Small exchanges cost fewer syscalls and less kernel work through a
      // buffer; once a read fills it the direction carries bulk data and
      // moves to splice for good (a pipe in use is always drained first).
      return d.pipe || (d.bulk && !d.buffer) ? step_splice(d) : step_copy(d);
  }
  return Step::error;
}

// One move of at most one chunk. Reads happen only when the previous chunk is
// fully written (back-pressure), and a read that would block gives the pipe
// back first: Asio's reactor is edge-triggered, so we only wait after the
// kernel said "would block".
Relay::Step Relay::step_splice(Direction& d) {
  if (d.pending > 0) {
    const ssize_t m = ::splice(d.pipe->read_fd(), nullptr, d.to->native_handle(), nullptr,
                               d.pending, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (m > 0) {
      d.pending -= static_cast<std::size_t>(m);
      last_activity_ = Clock::now();
      return d.pending == 0 ? after_write(d) : Step::again;
    }
    if (m < 0 && errno == EAGAIN) return Step::wait_write;
    return Step::error;
  }
  if (!d.pipe) {
    d.pipe.emplace(worker_.pipes().acquire());
    if (!d.pipe->valid()) {
      // No descriptor for a pipe (a local fault): this chunk goes through
      // a buffer instead; the connection is not dropped.
      d.pipe.reset();
      return step_copy(d);
    }
  }
  const ssize_t n = ::splice(d.from->native_handle(), nullptr, d.pipe->write_fd(), nullptr,
                             kSpliceChunk, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
  const int err = errno;  // before the pipe goes back (a close may set errno)
  if (n > 0) {
    d.drained = static_cast<std::size_t>(n) < kSpliceChunk;
    count_read(d, static_cast<std::size_t>(n));
    return Step::again;
  }
  d.pipe.reset();  // empty: back to the worker's pool
  if (n == 0) return Step::eof;
  // Only a true EAGAIN may wait: the wait does not re-arm.
  return err == EAGAIN ? Step::wait_read : Step::error;
}

Relay::Step Relay::step_copy(Direction& d) {
  if (d.pending > 0) {
    const ssize_t m =
        ::send(d.to->native_handle(), d.buffer->data() + d.offset, d.pending, MSG_NOSIGNAL);
    if (m > 0) {
      d.pending -= static_cast<std::size_t>(m);
      d.offset += static_cast<std::size_t>(m);
      last_activity_ = Clock::now();
      return d.pending == 0 ? after_write(d) : Step::again;
    }
    return m < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) ? Step::wait_write : Step::error;
  }
  if (!d.buffer) d.buffer.emplace(worker_.buffers().acquire());
  const ssize_t n = ::recv(d.from->native_handle(), d.buffer->data(), d.buffer->size(), 0);
  const int err = errno;  // before the buffer goes back
  if (n > 0) {
    d.drained = static_cast<std::size_t>(n) < d.buffer->size();
    if (!d.drained) d.bulk = true;
    d.offset = 0;
    count_read(d, static_cast<std::size_t>(n));
    return Step::again;
  }
  d.buffer.reset();
  if (n == 0) return Step::eof;
  return err == EAGAIN || err == EWOULDBLOCK ? Step::wait_read : Step::error;
}

// A read brought n bytes in: they are pending until written.
void Relay::count_read(Direction& d, std::size_t n) {
  d.pending = n;
  d.bytes += n;
  if (d.counter) d.counter->fetch_add(n, std::memory_order_relaxed);
  last_activity_ = Clock::now();
  // The server's first byte: the clock was read anyway.
  if (&d == &down_ && d.bytes == n) first_from_server_ = last_activity_;
}

// A short read emptied the socket at that moment: the buffer or pipe goes
// back to the worker, and the direction reads once more. That read finds
// the end of stream that often came with the data (a server that answers
// and closes) without a wait, or fails with EAGAIN, after which the wait
// needs no re-arm (net/readable_wait.h). Waiting straight after the short
// read would need Asio's async_wait and its EPOLL_CTL_MOD, because an end
// of stream or a reset reported with the data raises no new edge: the same
// one syscall, and never the early end. A read that was short for another
// reason (a pipe's slots full of small segments) simply goes on. The
// tests' bulk and many-small-writes cases cover both.
Relay::Step Relay::after_write(Direction& d) {
  if (!d.drained) {
    // More is waiting. In automatic mode a full buffer means bulk: hand the
    // buffer back so that the next read goes through a pipe.
    if (d.bulk && worker_.relay_mode() == config::RelayMode::automatic) d.buffer.reset();
    return Step::again;
  }
  d.drained = false;
  if (d.pipe) d.pipe.reset();
  if (d.buffer) d.buffer.reset();
  return Step::again;
}

void Relay::on_eof(Direction& d) {
  d.done = true;
  if (up_.done && down_.done) {
    finish("ok");  // both ends said all they had: close, no shutdown needed
    return;
  }
  // Half-close: pass the end of this direction on, keep the other open.
  error_code ignored;
  d.to->shutdown(tcp::socket::shutdown_send, ignored);
}

void Relay::arm_idle_timer() {
  // Until the client's first byte, its deadline may come before the idle one.
  if (first_byte_deadline_ && client_spoke()) first_byte_deadline_.reset();
  auto at = last_activity_ + idle_timeout_;
  if (first_byte_deadline_) at = std::min(at, *first_byte_deadline_);
  idle_timer_.expires_at(at);
  idle_timer_.async_wait([self = shared_from_this()](const error_code& ec) {
    if (ec || self->finished_) return;
    const auto now = Clock::now();
    if (self->first_byte_deadline_ && !self->client_spoke() && now >= *self->first_byte_deadline_) {
      self->finish("first-byte-timeout");
    } else if (now >= self->last_activity_ + self->idle_timeout_) {
      self->finish("idle-timeout");
    } else {
      self->arm_idle_timer();  // traffic moved since: wait for the rest
    }
  });
}

void Relay::finish(std::string_view outcome) {
  if (finished_) return;
  finished_ = true;
  error_code ignored;
  idle_timer_.cancel();
  // Closing cancels the waits still pending; their handlers see finished_.
  client_.close(ignored);
  server_.close(ignored);
  // A pipe that still holds bytes must not go back to the pool.
  for (Direction* d : {&up_, &down_}) {
    if (d->pipe && d->pending > 0) d->pipe->discard();
    d->pipe.reset();
    d->buffer.reset();
  }
  on_finished(RelayResult{up_.bytes, down_.bytes, outcome, first_from_server_});
}

}  // namespace sb::runtime
