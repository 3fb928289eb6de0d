#include "proxy/net/cidr.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstddef>

namespace sb::net {
namespace {

// The longest textual address inet_pton can accept:
// "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255" is 45 characters. Anything
// longer is rejected before copying, so the copy below never truncates.
constexpr std::size_t kMaxAddressText = INET6_ADDRSTRLEN - 1;

constexpr std::array<std::uint8_t, 12> kMappedPrefix = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

bool is_v4_mapped(const IpBytes& addr) {
  return addr.v6 && std::equal(kMappedPrefix.begin(), kMappedPrefix.end(), addr.bytes.begin());
}

// Parses the decimal prefix length after '/'. Deliberately stricter than
// strtol: no sign, no whitespace, no leading zeros ("/08" is more likely a typo
// than an intent), nothing but digits, so that a config file cannot say one
// thing and mean another.
std::optional<int> parse_prefix(std::string_view text, int max_prefix) {
  if (text.empty() || text.size() > 3) return std::nullopt;
  if (text.size() > 1 && text.front() == '0') return std::nullopt;
  int value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  if (value > max_prefix) return std::nullopt;
  return value;
}

// Keeps the first `prefix` bits of `addr` and zeroes the rest. For IPv4 the
// unused bytes 4..15 are zeroed too, so that comparing with `==` does not
// depend on what a caller left there.
IpBytes masked(IpBytes addr, int prefix) {
  const int family_bytes = addr.v6 ? 16 : 4;
  for (int i = 0; i < 16; ++i) {
    const int bits_in_byte = i < family_bytes ? std::clamp(prefix - i * 8, 0, 8) : 0;
    const auto keep = static_cast<std::uint8_t>(0xff00u >> bits_in_byte);
    addr.bytes[static_cast<std::size_t>(i)] &= keep;
  }
  return addr;
}

}  // namespace

std::optional<IpBytes> IpBytes::parse(std::string_view text) {
  if (text.empty() || text.size() > kMaxAddressText) return std::nullopt;
  // inet_pton stops at a NUL; an embedded one would let "1.2.3.4\0junk" pass.
  if (text.find('\0') != std::string_view::npos) return std::nullopt;

  char buffer[kMaxAddressText + 1];
  std::copy(text.begin(), text.end(), buffer);
  buffer[text.size()] = '\0';

  IpBytes result;
  // A colon can only appear in IPv6 text, and glibc's AF_INET parser accepts
  // only the strict dotted quad (no "1.2.3", no octal, no hex), which is what
  // an ACL should mean.
  result.v6 = text.find(':') != std::string_view::npos;
  if (inet_pton(result.v6 ? AF_INET6 : AF_INET, buffer, result.bytes.data()) != 1) {
    return std::nullopt;
  }
  return result;
}

IpBytes IpBytes::unmapped() const {
  if (!is_v4_mapped(*this)) return *this;
  IpBytes v4;
  std::copy(bytes.begin() + 12, bytes.end(), v4.bytes.begin());
  return v4;
}

std::string IpBytes::to_string() const {
  char buffer[INET6_ADDRSTRLEN];
  // Cannot fail: the family is valid and the buffer fits the longest form.
  inet_ntop(v6 ? AF_INET6 : AF_INET, bytes.data(), buffer, sizeof(buffer));
  return buffer;
}

std::optional<Cidr> Cidr::parse(std::string_view text) {
  const auto slash = text.find('/');
  auto address = IpBytes::parse(text.substr(0, slash));
  if (!address) return std::nullopt;

  const int max_prefix = address->v6 ? 128 : 32;
  int prefix = max_prefix;
  if (slash != std::string_view::npos) {
    const auto parsed = parse_prefix(text.substr(slash + 1), max_prefix);
    if (!parsed) return std::nullopt;
    prefix = *parsed;
  }

  Cidr cidr;
  cidr.network_ = masked(*address, prefix);
  cidr.prefix_ = prefix;
  return cidr;
}

bool Cidr::contains(const IpBytes& addr) const {
  // Dual-stack listeners see IPv4 clients as ::ffff:a.b.c.d; an IPv4 rule must
  // still apply to them. The reverse (an IPv6 rule matching a plain IPv4
  // address) is not done: a rule such as ::/0 should not silently admit IPv4.
  const IpBytes candidate = network_.v6 ? addr : addr.unmapped();
  if (candidate.v6 != network_.v6) return false;
  return masked(candidate, prefix_) == network_;
}

std::string Cidr::to_string() const {
  return network_.to_string() + "/" + std::to_string(prefix_);
}

}  // namespace sb::net
