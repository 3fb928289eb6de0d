#include "proxy/upstream/transparent_source.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <string>

namespace sb::runtime {
namespace {

bool set_transparent(int fd, bool v6) {
  const int on = 1;
  return v6 ? ::setsockopt(fd, SOL_IPV6, IPV6_TRANSPARENT, &on, sizeof on) == 0
            : ::setsockopt(fd, SOL_IP, IP_TRANSPARENT, &on, sizeof on) == 0;
}

}  // namespace

error_code open_transparent(tcp::socket& socket, const tcp::endpoint& target,
                            const tcp::endpoint& client) {
  error_code ec;
  socket.open(target.protocol(), ec);
  if (ec) return ec;
  if (!set_transparent(socket.native_handle(), target.protocol() == tcp::v6())) {
    return error_code(errno, asio::error::get_system_category());
  }
  // The client's address in the server's family (an IPv4 client of an IPv6
  // listener arrives v4-mapped).
  asio::ip::address source = client.address();
  if (source.is_v6() && source.to_v6().is_v4_mapped() && target.protocol() == tcp::v4()) {
    source = asio::ip::make_address_v4(asio::ip::v4_mapped, source.to_v6());
  }
  socket.bind(tcp::endpoint(source, 0), ec);
  return ec;
}

std::optional<std::string> transparent_unavailable() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return std::string(std::strerror(errno));
  const bool ok = set_transparent(fd, false);
  const int err = errno;
  ::close(fd);
  if (ok) return std::nullopt;
  return std::string(std::strerror(err));
}

}  // namespace sb::runtime
