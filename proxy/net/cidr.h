#pragma once
// IPv4/IPv6 network prefixes for listener allow/deny lists. Pure std: parsing
// and matching work on raw address bytes so that the hot path (one check per
// accepted connection) needs no allocation and no Asio.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sb::net {

// An IP address as 16 bytes; IPv4 is stored in the first 4 bytes.
struct IpBytes {
  bool v6 = false;
  std::array<std::uint8_t, 16> bytes{};

  // Parses "192.0.2.1" or "2001:db8::1" (no brackets). IPv4-mapped IPv6
  // addresses (::ffff:a.b.c.d) are kept as IPv6 here; see `unmapped()`.
  static std::optional<IpBytes> parse(std::string_view text);
  // ::ffff:a.b.c.d -> a.b.c.d, anything else unchanged. Dual-stack sockets
  // report IPv4 clients this way; ACLs written in IPv4 must still match.
  IpBytes unmapped() const;
  std::string to_string() const;
  friend bool operator==(const IpBytes&, const IpBytes&) = default;
};

class Cidr {
 public:
  // "10.0.0.0/8", "2001:db8::/32", or a bare address (a /32 or /128).
  // nullopt on a bad address or a prefix out of range.
  static std::optional<Cidr> parse(std::string_view text);

  // True when `addr` lies in this network. IPv4-mapped IPv6 addresses are
  // matched against IPv4 networks. Different families never match.
  bool contains(const IpBytes& addr) const;

  int prefix() const { return prefix_; }
  const IpBytes& network() const { return network_; }
  std::string to_string() const;

 private:
  IpBytes network_;  // host bits cleared
  int prefix_ = 0;
};

}  // namespace sb::net
