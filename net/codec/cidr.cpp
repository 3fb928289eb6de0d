#include "net/codec/cidr.h"

#include <algorithm>
#include <cstddef>

namespace sb::net {
namespace {

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
IpAddress masked(IpAddress addr, int prefix) {
  const int family_bytes = addr.v6 ? 16 : 4;
  for (int i = 0; i < 16; ++i) {
    const int bits_in_byte = i < family_bytes ? std::clamp(prefix - i * 8, 0, 8) : 0;
    const auto keep = static_cast<std::uint8_t>(0xff00u >> bits_in_byte);
    addr.bytes[static_cast<std::size_t>(i)] &= keep;
  }
  return addr;
}

}  // namespace

std::optional<Cidr> Cidr::parse(std::string_view text) {
  const auto slash = text.find('/');
  auto address = IpAddress::parse(text.substr(0, slash));
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

bool Cidr::contains(const IpAddress& addr) const {
  // Dual-stack listeners see IPv4 clients as ::ffff:a.b.c.d; an IPv4 rule must
  // still apply to them. The reverse (an IPv6 rule matching a plain IPv4
  // address) is not done: a rule such as ::/0 should not silently admit IPv4.
  const IpAddress candidate = network_.v6 ? addr : addr.unmapped();
  if (candidate.v6 != network_.v6) return false;
  return masked(candidate, prefix_) == network_;
}

std::string Cidr::to_string() const {
  return network_.to_string() + "/" + std::to_string(prefix_);
}

}  // namespace sb::net
