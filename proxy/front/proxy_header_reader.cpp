#include "proxy/front/proxy_header_reader.h"

#include "net/socket_deadline.h"

namespace sb::runtime {

awaitable<ProxyHeaderRead> read_proxy_header(tcp::socket& socket,
                                             std::chrono::milliseconds timeout) {
  ProxyHeaderRead out;
  // v1 fits in 107 bytes and most v2 headers in a few dozen; grow only for
  // v2 headers that carry TLVs, up to the codec's cap (a longer header is
  // invalid before it is all read).
  std::vector<char> buf(256);
  std::size_t have = 0;
  net::SocketDeadline deadline(socket, timeout);
  for (;;) {
    if (have == buf.size()) buf.resize(std::min(buf.size() * 4, net::kMaxV2Received));
    // Through the deadline: a read started after it passed fails at once.
    auto [ec, n] = co_await deadline.read_some(asio::buffer(buf.data() + have, buf.size() - have));
    if (ec) {
      out.error = deadline.expired() ? "timeout" : "closed";
      break;
    }
    have += n;
    const auto parsed = net::parse_proxy_header(std::span<const char>(buf.data(), have));
    if (parsed.status == net::ParseStatus::need_more) continue;
    if (parsed.status == net::ParseStatus::invalid) {
      out.error = parsed.error;
      break;
    }
    out.ok = true;
    out.addresses = parsed.addresses;
    out.early_data.assign(buf.begin() + static_cast<std::ptrdiff_t>(parsed.consumed),
                          buf.begin() + static_cast<std::ptrdiff_t>(have));
    break;
  }
  co_await deadline.disarm();
  co_return out;
}

}  // namespace sb::runtime
