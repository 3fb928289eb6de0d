#include "net/write_within.h"

#include <sys/socket.h>

#include <cerrno>

#include "net/socket_deadline.h"

namespace sb::net {

awaitable<std::tuple<error_code, std::size_t>> write_within(
    tcp::socket& socket, asio::const_buffer data, std::chrono::steady_clock::duration timeout) {
  // MSG_DONTWAIT: whether or not the descriptor is non-blocking yet (no
  // ioctl for it; the wait below makes it so if it must wait).
  std::size_t first = 0;
  const ssize_t n =
      ::send(socket.native_handle(), data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  error_code ec;
  if (n >= 0) {
    first = static_cast<std::size_t>(n);
  } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
    ec = error_code(errno, asio::error::get_system_category());
  }
  if (ec || first == data.size()) co_return std::tuple(ec, first);
  SocketDeadline deadline(socket, timeout);
  auto [wec, rest] = co_await deadline.write(data + first);
  co_await deadline.disarm();
  co_return std::tuple(wec, first + rest);
}

}  // namespace sb::net
