#include "proxy/host_port.h"

namespace sb::runtime {

std::optional<tcp::endpoint> to_endpoint(const config::HostPort& hp) {
  if (hp.kind == config::HostPort::Kind::hostname) return std::nullopt;
  error_code ec;
  auto addr = asio::ip::make_address(hp.host, ec);
  if (ec) return std::nullopt;
  return tcp::endpoint(addr, hp.port);
}

}  // namespace sb::runtime
