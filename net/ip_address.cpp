#include "net/ip_address.h"

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

bool is_v4_mapped(const IpAddress& addr) {
  return addr.v6 && std::equal(kMappedPrefix.begin(), kMappedPrefix.end(), addr.bytes.begin());
}

}  // namespace

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  if (text.empty() || text.size() > kMaxAddressText) return std::nullopt;
  // inet_pton stops at a NUL; an embedded one would let "1.2.3.4\0junk" pass.
  if (text.find('\0') != std::string_view::npos) return std::nullopt;

  char buffer[kMaxAddressText + 1];
  std::copy(text.begin(), text.end(), buffer);
  buffer[text.size()] = '\0';

  IpAddress result;
  // A colon can only appear in IPv6 text, and glibc's AF_INET parser accepts
  // only the strict dotted quad (no "1.2.3", no octal, no hex), which is what
  // an ACL should mean.
  result.v6 = text.find(':') != std::string_view::npos;
  if (inet_pton(result.v6 ? AF_INET6 : AF_INET, buffer, result.bytes.data()) != 1) {
    return std::nullopt;
  }
  return result;
}

IpAddress IpAddress::unmapped() const {
  if (!is_v4_mapped(*this)) return *this;
  IpAddress v4;
  std::copy(bytes.begin() + 12, bytes.end(), v4.bytes.begin());
  return v4;
}

std::string IpAddress::to_string() const {
  char buffer[INET6_ADDRSTRLEN];
  // Cannot fail: the family is valid and the buffer fits the longest form.
  inet_ntop(v6 ? AF_INET6 : AF_INET, bytes.data(), buffer, sizeof(buffer));
  return buffer;
}

}  // namespace sb::net
