#include "dns/discovery.h"

#include <algorithm>

namespace sb::dns {
namespace {

std::string host_port(const std::string& host, std::uint16_t port) {
  return host + ":" + std::to_string(port);
}

}  // namespace

std::vector<DiscoveredServer> servers_from_addresses(const std::string& entry_name,
                                                     const std::vector<AddressRecord>& addresses,
                                                     std::uint16_t port, int weight, int priority) {
  std::vector<DiscoveredServer> out;
  for (const auto& a : addresses) {
    out.push_back({entry_name + "@" + a.to_string(), a, port, weight, priority});
  }
  return out;
}

std::vector<DiscoveredServer> servers_from_srv(const std::vector<SrvRecord>& records,
                                               const AddressesByName& addresses, int priority) {
  std::uint16_t heaviest = 0;
  for (const auto& r : records) heaviest = std::max(heaviest, r.weight);
  std::vector<DiscoveredServer> out;
  for (const auto& r : records) {
    if (r.target.empty() || r.target == ".") continue;
    const auto it = addresses.find(r.target);
    if (it == addresses.end()) continue;
    // Ratios kept; 0 ("use rarely", RFC 2782) becomes the smallest share.
    const int weight =
        heaviest <= 256 ? std::max<int>(1, r.weight) : std::max(1, r.weight * 256 / heaviest);
    for (const auto& a : it->second) {
      out.push_back({host_port(r.target, r.port) + "@" + a.to_string(), a, r.port, weight,
                     priority + r.priority});
    }
  }
  return out;
}

std::vector<DiscoveredServer> servers_from_mx(const std::vector<MxRecord>& records,
                                              const AddressesByName& addresses, std::uint16_t port,
                                              int weight, int priority) {
  std::vector<DiscoveredServer> out;
  for (const auto& r : records) {
    // RFC 7505 null MX ("." with preference 0): the domain takes no mail.
    if (r.host.empty() || r.host == ".") continue;
    const auto it = addresses.find(r.host);
    if (it == addresses.end()) continue;
    for (const auto& a : it->second) {
      out.push_back({r.host + "@" + a.to_string(), a, port, weight, priority + r.preference});
    }
  }
  return out;
}

std::chrono::milliseconds refresh_after(std::chrono::seconds smallest_ttl, bool any_ttl,
                                        std::chrono::milliseconds min_ttl,
                                        std::chrono::milliseconds max_ttl) {
  if (!any_ttl) return min_ttl;
  return std::clamp<std::chrono::milliseconds>(smallest_ttl, min_ttl, std::max(min_ttl, max_ttl));
}

}  // namespace sb::dns
