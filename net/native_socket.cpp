#include "net/native_socket.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "net/asio_impl_access.h"

namespace sb::net {
namespace {

namespace asio = boost::asio;
using boost::system::error_code;
namespace ops = asio::detail::socket_ops;

error_code last_error() {
  return error_code(errno, asio::error::get_system_category());
}

// `fd` is non-blocking and has no duplicate: Asio adopts it and is told so
// (internal_non_blocking: what its first asynchronous operation would have
// set; possible_dup cleared: close(2) alone leaves epoll).
error_code adopt(asio::ip::tcp::socket& socket, const asio::ip::tcp& protocol, int fd) {
  error_code ec;
  socket.assign(protocol, fd, ec);
  if (ec) {
    ::close(fd);
    return ec;
  }
  auto& state = detail::impl_of(socket).state_;
  state = static_cast<ops::state_type>((state | ops::internal_non_blocking) & ~ops::possible_dup);
  return ec;
}

}  // namespace

error_code open_nonblocking(asio::ip::tcp::socket& socket, const asio::ip::tcp& protocol) {
  const int fd =
      ::socket(protocol.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol.protocol());
  if (fd < 0) return last_error();
  return adopt(socket, protocol, fd);
}

error_code accept_nonblocking(asio::ip::tcp::acceptor& acceptor, asio::ip::tcp::socket& socket,
                              asio::ip::tcp::endpoint& peer) {
  // The listening socket too, once: a blocking one would hold the worker.
  if (!acceptor.native_non_blocking()) {
    error_code ec;
    acceptor.native_non_blocking(true, ec);
    if (ec) return ec;
  }
  for (;;) {
    socklen_t len = static_cast<socklen_t>(peer.capacity());
    const int fd =
        ::accept4(acceptor.native_handle(), peer.data(), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      peer.resize(len);
      return adopt(socket, len == sizeof(sockaddr_in) ? asio::ip::tcp::v4() : asio::ip::tcp::v6(),
                   fd);
    }
    // A connection reset before it was accepted, or a signal: the next one.
    if (errno == ECONNABORTED || errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return asio::error::would_block;
    return last_error();
  }
}

}  // namespace sb::net
