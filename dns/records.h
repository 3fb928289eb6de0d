#pragma once
// What the resolver returns: addresses, SRV and MX records, each with its
// TTL. Plain values, no c-ares or socket types.

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "net/ip_address.h"

namespace sb::dns {

struct AddressRecord {
  net::IpAddress ip;
  std::chrono::seconds ttl{0};
  std::string to_string() const;  // "10.0.0.1", "2001:db8::1"
  friend bool operator==(const AddressRecord& a, const AddressRecord& b) { return a.ip == b.ip; }
};

struct SrvRecord {
  std::string target;
  std::uint16_t priority = 0;
  std::uint16_t weight = 0;
  std::uint16_t port = 0;
  std::chrono::seconds ttl{0};
};

struct MxRecord {
  std::string host;
  std::uint16_t preference = 0;
  std::chrono::seconds ttl{0};
  // The host's A/AAAA records when the answer carried them (additional
  // section), as switchboard's own responder does.
  std::vector<AddressRecord> glue;
};

// The outcome of one lookup. nxdomain and nodata are answers, not failures:
// the name has no such records (a discovery entry then yields no servers).
enum class LookupStatus { ok, nxdomain, nodata, error };

template <class Record>
struct Lookup {
  LookupStatus status = LookupStatus::error;
  std::string error;  // for logs: c-ares' message
  std::vector<Record> records;
};

// The answer section of a DNS reply, parsed for SRV or MX records of any
// owner (the question decides what was asked). nullopt when the message is
// malformed. c-ares 1.18 parses both but drops the TTLs that re-resolution
// needs, hence these.
std::optional<std::vector<SrvRecord>> parse_srv_answer(const unsigned char* msg, int length);
std::optional<std::vector<MxRecord>> parse_mx_answer(const unsigned char* msg, int length);

}  // namespace sb::dns
