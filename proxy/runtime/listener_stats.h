#pragma once
// Live counters of one listener, shared by its acceptors on every worker and
// read by the metrics module at scrape time.

#include <array>
#include <atomic>
#include <cstdint>

namespace sb::runtime {

enum class RejectReason : std::uint8_t { acl, limit, proxy_header };
inline constexpr std::size_t kRejectReasons = 3;

struct ListenerStats {
  std::atomic<std::uint64_t> connections_total{0};  // admitted
  std::atomic<std::int64_t> active{0};
  std::array<std::atomic<std::uint64_t>, kRejectReasons> rejected{};

  void count_rejected(RejectReason r) {
    rejected[static_cast<std::size_t>(r)].fetch_add(1, std::memory_order_relaxed);
  }
};

}  // namespace sb::runtime
