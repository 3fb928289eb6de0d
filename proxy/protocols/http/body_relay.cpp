#include "proxy/protocols/http/body_relay.h"

namespace sb::runtime::http {

awaitable<void> pump(net::Stream& from, Watchdog& from_dog, net::Stream& to, Watchdog& to_dog,
                     std::span<char> buffer, std::chrono::steady_clock::duration idle,
                     std::uint64_t& bytes) {
  for (;;) {
    from_dog.arm(idle);
    auto [ec, n] =
        co_await from.async_read_some(asio::buffer(buffer.data(), buffer.size()), use_nothrow);
    from_dog.disarm();
    if (ec) break;
    to_dog.arm(idle);
    auto [wec, w] = co_await asio::async_write(to, asio::buffer(buffer.data(), n), use_nothrow);
    to_dog.disarm();
    if (wec) break;
    bytes += n;
  }
  error_code ignored;
  from.socket().shutdown(tcp::socket::shutdown_both, ignored);
  to.socket().shutdown(tcp::socket::shutdown_both, ignored);
}

}  // namespace sb::runtime::http
