#include "net/write_within.h"

#include "net/socket_deadline.h"

namespace sb::net {

awaitable<std::tuple<error_code, std::size_t>> write_within(
    tcp::socket& socket, asio::const_buffer data, std::chrono::steady_clock::duration timeout) {
  error_code ec;
  if (!socket.non_blocking()) socket.non_blocking(true, ec);
  if (ec) co_return std::tuple(ec, std::size_t{0});
  const std::size_t first = socket.write_some(data, ec);
  if (ec == asio::error::would_block) ec.clear();
  if (ec || first == data.size()) co_return std::tuple(ec, first);
  SocketDeadline deadline(socket, timeout);
  auto [wec, rest] = co_await deadline.write(data + first);
  co_await deadline.disarm();
  co_return std::tuple(wec, first + rest);
}

}  // namespace sb::net
