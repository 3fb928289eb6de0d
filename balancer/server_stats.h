#pragma once
// Live counters of one server, shared by every worker and every snapshot that
// names the server. Workers update them with relaxed atomics (no lock on the
// hot path); least-connections reads `active`; the metrics module reads all of
// them at scrape time. The object outlives reloads for servers that stay, so
// counters do not reset when the configuration changes.

#include <array>
#include <atomic>
#include <cstdint>

#include "balancer/duration_histogram.h"

namespace sb::balancer {

enum class ConnectFailure : std::uint8_t { refused, timeout, banner, tls, reset };
inline constexpr std::size_t kConnectFailureKinds = 5;
// error: the probe could not run here (a local fault), no verdict.
enum class CheckResult : std::uint8_t { pass, fail, timeout, error };
inline constexpr std::size_t kCheckResults = 4;

struct ServerStats {
  std::atomic<std::int64_t> active{0};
  std::atomic<std::uint64_t> connections_total{0};
  std::array<std::atomic<std::uint64_t>, kConnectFailureKinds> connect_failures{};
  std::atomic<std::uint64_t> bytes_in{0};   // received from the server
  std::atomic<std::uint64_t> bytes_out{0};  // sent to the server
  // Connects that failed in a row (passive health / outlier ejection); any
  // success resets it.
  std::atomic<std::uint32_t> consecutive_failures{0};
  DurationHistogram connect_duration;   // successful connects
  DurationHistogram response_duration;  // first answer (banner, HTTP byte, SIP final)
  // Health, written by the control plane.
  std::array<std::atomic<std::uint64_t>, kCheckResults> checks{};
  DurationHistogram check_duration;
  std::atomic<std::uint64_t> went_up{0};
  std::atomic<std::uint64_t> went_down{0};

  // Returns the number of failures in a row, this one included.
  std::uint32_t count_failure(ConnectFailure f) {
    connect_failures[static_cast<std::size_t>(f)].fetch_add(1, std::memory_order_relaxed);
    return consecutive_failures.fetch_add(1, std::memory_order_relaxed) + 1;
  }
  void count_success() {
    // Read first: most connects succeed, and a store would bounce the
    // cache line between workers for nothing.
    if (consecutive_failures.load(std::memory_order_relaxed) != 0) {
      consecutive_failures.store(0, std::memory_order_relaxed);
    }
  }
};

// Holds one active connection on a server for as long as it lives.
class ActiveConnection {
 public:
  ActiveConnection() = default;
  explicit ActiveConnection(ServerStats* stats) : stats_(stats) {
    stats_->active.fetch_add(1, std::memory_order_relaxed);
    stats_->connections_total.fetch_add(1, std::memory_order_relaxed);
  }
  ActiveConnection(ActiveConnection&& o) noexcept : stats_(o.stats_) { o.stats_ = nullptr; }
  ActiveConnection& operator=(ActiveConnection&& o) noexcept {
    if (this != &o) {
      release();
      stats_ = o.stats_;
      o.stats_ = nullptr;
    }
    return *this;
  }
  ActiveConnection(const ActiveConnection&) = delete;
  ActiveConnection& operator=(const ActiveConnection&) = delete;
  ~ActiveConnection() { release(); }

 private:
  void release() {
    if (stats_) stats_->active.fetch_sub(1, std::memory_order_relaxed);
    stats_ = nullptr;
  }
  ServerStats* stats_ = nullptr;
};

}  // namespace sb::balancer
