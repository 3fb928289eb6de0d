#include "net/connect.h"

#include <sys/socket.h>

#include <boost/asio.hpp>
#include <cerrno>

#include "net/native_socket.h"

namespace sb::net {

namespace asio = boost::asio;
using boost::system::error_code;

asio::awaitable<error_code> connect_nonblocking(asio::ip::tcp::socket& socket,
                                                const asio::ip::tcp::endpoint& target) {
  error_code ec;
  if (!socket.is_open()) {
    ec = open_nonblocking(socket, target.protocol());
  } else if (!socket.native_non_blocking()) {
    socket.native_non_blocking(true, ec);
  }
  if (ec) co_return ec;
  if (::connect(socket.native_handle(), target.data(), static_cast<socklen_t>(target.size())) ==
      0) {
    co_return error_code{};
  }
  if (errno != EINPROGRESS) co_return error_code(errno, asio::error::get_system_category());
  auto [wec] = co_await socket.async_wait(asio::ip::tcp::socket::wait_write,
                                          asio::as_tuple(asio::use_awaitable));
  if (wec) co_return wec;  // cancelled by the deadline
  int err = 0;
  socklen_t len = sizeof(err);
  if (::getsockopt(socket.native_handle(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
  co_return err == 0 ? error_code{} : error_code(err, asio::error::get_system_category());
}

void close_with_reset(asio::ip::tcp::socket& socket) {
  error_code ignored;
  if (socket.is_open()) socket.set_option(asio::socket_base::linger(true, 0), ignored);
  socket.close(ignored);
}

bool is_local_fault(const error_code& ec) {
  if (ec.category() != asio::error::get_system_category()) return false;
  switch (ec.value()) {
    case EMFILE:
    case ENFILE:
    case ENOBUFS:
    case ENOMEM:
    case EADDRNOTAVAIL:
      return true;
    default:
      return false;
  }
}

}  // namespace sb::net
