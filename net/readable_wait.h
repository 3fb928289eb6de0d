#pragma once
// A wait for a socket to become readable that does not re-arm the socket's
// epoll registration.
//
// Asio registers each socket once, edge-triggered, and its async_wait
// re-arms the registration with EPOLL_CTL_MOD every time, because it cannot
// know whether the caller consumed the last edge: one syscall per wait. A
// caller that has just read until EAGAIN knows more: the next byte raises a
// new edge. This wait queues on the reactor as Asio's own speculative reads
// do after a read that would block, without the syscall. An event the
// reactor reported before the EAGAIN is consumed by that read; one it
// reports after it finds this wait queued (both happen on the one thread
// that runs the io_context, so nothing comes between the read and start()).
//
// Only after a read that failed with EAGAIN (or would_block). After a read
// that was merely short, an end of stream or an error may already have been
// reported with the data: wait with async_wait then.
//
// The operation lives in this object: no allocation per wait. One wait at a
// time; the io_context's thread only. Closing the socket completes a
// pending wait with operation_aborted; an io_context destroyed with a wait
// pending drops it without calling back.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <memory>
// After io_context.hpp: the reactor's headers expect it.
#include <boost/asio/detail/reactor.hpp>
#include <boost/asio/detail/reactor_op.hpp>

namespace sb::net {

// The epoll reactor of an io_context, found once (use_service locks and
// walks a list) and handed to every start().
class Reactor {
 public:
  explicit Reactor(boost::asio::io_context& io);

 private:
  friend class ReadableWait;
  boost::asio::detail::reactor* reactor_;
};

class ReadableWait {
 public:
  // Called on completion (ec: success, or operation_aborted when the socket
  // was closed); `keep` is released after it returns.
  using Done = void (*)(void* owner, ReadableWait& wait, const boost::system::error_code& ec);

  ReadableWait(void* owner, Done done) : op_(*this), owner_(owner), done_(done) {}
  ReadableWait(const ReadableWait&) = delete;
  ReadableWait& operator=(const ReadableWait&) = delete;

  // Precondition: the last read of `socket` failed with EAGAIN, no other
  // wait of this object is pending, and `reactor` is that of the socket's
  // io_context. `keep` holds the owner alive until the end of the wait.
  void start(boost::asio::ip::tcp::socket& socket, Reactor& reactor, std::shared_ptr<void> keep);
  bool pending() const { return pending_; }

 private:
  struct Op final : boost::asio::detail::reactor_op {
    explicit Op(ReadableWait& w);
    static status perform(reactor_op* base);
    static void complete(void* owner, boost::asio::detail::scheduler_operation* base,
                         const boost::system::error_code& ec, std::size_t bytes);
    ReadableWait& wait;
  };

  Op op_;
  void* owner_;
  Done done_;
  std::shared_ptr<void> keep_;
  bool pending_ = false;
  bool starting_ = false;  // start_op's speculative attempt: queue, do not complete
};

}  // namespace sb::net
