#pragma once
// The one IP address type of every module: 4 or 16 bytes in network order
// and the family. Pure std (no sockets), so that the balancer's server views,
// the health checks' targets, DNS records and the ACLs share it; net/endpoint.h
// converts it to and from Asio's addresses.

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace sb::net {

// An IP address as 16 bytes; IPv4 is stored in the first 4 bytes.
struct IpAddress {
  bool v6 = false;
  std::array<std::uint8_t, 16> bytes{};

  // Parses "192.0.2.1" or "2001:db8::1" (no brackets). IPv4-mapped IPv6
  // addresses (::ffff:a.b.c.d) are kept as IPv6 here; see `unmapped()`.
  static std::optional<IpAddress> parse(std::string_view text);
  // ::ffff:a.b.c.d -> a.b.c.d, anything else unchanged. Dual-stack sockets
  // report IPv4 clients this way; ACLs written in IPv4 must still match.
  IpAddress unmapped() const;
  std::string to_string() const;
  // The address's own bytes: 4 for IPv4, 16 for IPv6.
  std::span<const std::uint8_t> span() const { return {bytes.data(), v6 ? 16u : 4u}; }
  friend bool operator==(const IpAddress&, const IpAddress&) = default;
};

}  // namespace sb::net
