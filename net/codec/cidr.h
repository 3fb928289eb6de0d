#pragma once
// IPv4/IPv6 network prefixes for listener allow/deny lists. Pure std: parsing
// and matching work on raw address bytes so that the hot path (one check per
// accepted connection) needs no allocation and no Asio.

#include <optional>
#include <string>
#include <string_view>

#include "net/ip_address.h"

namespace sb::net {

class Cidr {
 public:
  // "10.0.0.0/8", "2001:db8::/32", or a bare address (a /32 or /128).
  // nullopt on a bad address or a prefix out of range.
  static std::optional<Cidr> parse(std::string_view text);

  // True when `addr` lies in this network. IPv4-mapped IPv6 addresses are
  // matched against IPv4 networks. Different families never match.
  bool contains(const IpAddress& addr) const;

  int prefix() const { return prefix_; }
  const IpAddress& network() const { return network_; }
  std::string to_string() const;

 private:
  IpAddress network_;  // host bits cleared
  int prefix_ = 0;
};

}  // namespace sb::net
