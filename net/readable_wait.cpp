#include "net/readable_wait.h"

#include <boost/asio/detail/scheduler_operation.hpp>
#include <cassert>

#include "net/asio_impl_access.h"

namespace sb::net {

namespace asio = boost::asio;
using asio::detail::reactor;
using asio::detail::reactor_op;

Reactor::Reactor(asio::io_context& io) : reactor_(&asio::use_service<reactor>(io)) {}

ReadableWait::Op::Op(ReadableWait& w)
    : reactor_op(boost::system::error_code(), &Op::perform, &Op::complete), wait(w) {}

// Called by the reactor when the socket is reported readable, and by
// start_op itself when the reactor saw an event that no wait took (its
// speculative attempt): that one the caller's EAGAIN has consumed already,
// so the wait queues. The caller reads itself, so there is nothing to
// perform. "done", not "exhausted": the socket is readable, and an Asio
// read started on it later may try at once.
reactor_op::status ReadableWait::Op::perform(reactor_op* base) {
  return static_cast<Op*>(base)->wait.starting_ ? not_done : done;
}

void ReadableWait::Op::complete(void* owner, asio::detail::scheduler_operation* base,
                                const boost::system::error_code&, std::size_t) {
  ReadableWait& w = static_cast<Op*>(base)->wait;
  w.pending_ = false;
  // May hold the last reference to the object `w` lives in: released after
  // the callback, and `w` not touched after it.
  const std::shared_ptr<void> keep = std::move(w.keep_);
  if (owner == nullptr) return;  // destroyed with the io_context
  const boost::system::error_code ec = w.op_.ec_;
  w.op_.ec_ = {};
  w.done_(w.owner_, w, ec);
}

void ReadableWait::start(asio::ip::tcp::socket& socket, Reactor& r, std::shared_ptr<void> keep) {
  // Queued twice, the operation would corrupt the reactor's list.
  assert(!pending_);
  auto& impl = detail::impl_of(socket);
  keep_ = std::move(keep);
  pending_ = true;
  starting_ = true;
  r.reactor_->start_op(reactor::read_op, impl.socket_, impl.reactor_data_, &op_,
                       /*is_continuation=*/false, /*allow_speculative=*/true);
  starting_ = false;
}

}  // namespace sb::net
