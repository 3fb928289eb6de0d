#pragma once
// Live counters of one listener, shared by its acceptors on every worker and
// read by the metrics module at scrape time.

#include <array>
#include <atomic>
#include <cstdint>
#include <string_view>

#include "metrics/exporter.h"

namespace sb::runtime {

enum class RejectReason : std::uint8_t { acl, limit, proxy_header };
inline constexpr std::size_t kRejectReasons = 3;

// A dns listener's answers by query type and response code (README.md "Prometheus and Grafana"
// switchboard_dns_queries_total, in the metrics module's label order), and
// what it could not answer.
struct DnsCounters {
  std::array<std::array<std::atomic<std::uint64_t>, metrics::kDnsRcodes.size()>,
             metrics::kDnsQtypes.size()>
      queries{};
  std::atomic<std::uint64_t> all_down{0};   // answered per when-all-down
  std::atomic<std::uint64_t> dropped{0};    // not a query, or an answer the socket refused
  std::atomic<std::uint64_t> truncated{0};  // TC set: the client asks over TCP
};

struct ListenerStats {
  std::atomic<std::uint64_t> connections_total{0};  // admitted
  std::atomic<std::int64_t> active{0};
  std::array<std::atomic<std::uint64_t>, kRejectReasons> rejected{};

  DnsCounters dns;  // dns listeners only

  void count_rejected(RejectReason r) {
    rejected[static_cast<std::size_t>(r)].fetch_add(1, std::memory_order_relaxed);
  }
};

}  // namespace sb::runtime
