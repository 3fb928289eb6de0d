#include "net/endpoint.h"

#include <fmt/format.h>

#include <cstring>

namespace sb::net {

IpAddress to_ip(const asio::ip::address& address) {
  net::IpAddress ip;
  if (address.is_v4()) {
    auto b = address.to_v4().to_bytes();
    std::memcpy(ip.bytes.data(), b.data(), b.size());
  } else {
    ip.v6 = true;
    auto b = address.to_v6().to_bytes();
    std::memcpy(ip.bytes.data(), b.data(), b.size());
  }
  return ip;
}

asio::ip::address to_address(const IpAddress& ip) {
  if (!ip.v6) {
    asio::ip::address_v4::bytes_type b;
    std::memcpy(b.data(), ip.bytes.data(), b.size());
    return asio::ip::address_v4(b);
  }
  asio::ip::address_v6::bytes_type b;
  std::memcpy(b.data(), ip.bytes.data(), b.size());
  return asio::ip::address_v6(b);
}

std::string to_string(const tcp::endpoint& ep) {
  auto addr = ep.address();
  if (addr.is_v6() && addr.to_v6().is_v4_mapped()) {
    addr = asio::ip::make_address_v4(asio::ip::v4_mapped, addr.to_v6());
  }
  if (addr.is_v6()) return fmt::format("[{}]:{}", addr.to_string(), ep.port());
  return fmt::format("{}:{}", addr.to_string(), ep.port());
}

}  // namespace sb::net
