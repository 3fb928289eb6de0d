#pragma once
// From DNS answers to pool members (docs/configuration.md servers): a HOST:PORT entry
// becomes one server per A/AAAA record; an `srv:` entry one per SRV target
// address (priority -> tier, weight -> weight, port from the record); an
// `mx:` entry one per MX host address (preference -> tier) on the entry's
// port. Pure: the runtime resolves, this maps.

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "dns/records.h"

namespace sb::dns {

struct DiscoveredServer {
  // Unique in the pool and stable while the address stays: "hub@10.0.0.11"
  // (HOST:PORT entries: entry name @ address), "um1.example.com:5060@10.0.0.5"
  // (srv: target:port @ address), "mx1.example.com@10.0.0.7" (mx). No '/',
  // so that the name works in admin API paths.
  std::string name;
  AddressRecord address;
  std::uint16_t port = 0;
  int weight = 1;
  int priority = 0;
};

// Addresses of each SRV target or MX host, by name.
using AddressesByName = std::map<std::string, std::vector<AddressRecord>>;

std::vector<DiscoveredServer> servers_from_addresses(const std::string& entry_name,
                                                     const std::vector<AddressRecord>& addresses,
                                                     std::uint16_t port, int weight, int priority);

// `priority` of the entry is added to each record's priority (its tier
// offset). SRV weights are scaled into 1..256 keeping their ratios; the "."
// target (RFC 2782: service not offered) yields nothing.
std::vector<DiscoveredServer> servers_from_srv(const std::vector<SrvRecord>& records,
                                               const AddressesByName& addresses, int priority);

std::vector<DiscoveredServer> servers_from_mx(const std::vector<MxRecord>& records,
                                              const AddressesByName& addresses, std::uint16_t port,
                                              int weight, int priority);

// When to ask again: the smallest TTL seen, clamped to [min_ttl, max_ttl].
// No TTL seen (nothing answered): min_ttl.
std::chrono::milliseconds refresh_after(std::chrono::seconds smallest_ttl, bool any_ttl,
                                        std::chrono::milliseconds min_ttl,
                                        std::chrono::milliseconds max_ttl);

}  // namespace sb::dns
