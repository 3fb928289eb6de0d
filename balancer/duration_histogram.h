#pragma once
// A histogram of durations as relaxed atomics: bucket counts (not
// cumulative) and a sum in microseconds. Written on the hot path (one
// bucket search over 14 bounds and two fetch_adds), read by the metrics
// module at scrape time, which turns it into a Prometheus histogram.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>

namespace sb::balancer {

struct DurationHistogram {
  // Upper bounds in seconds: 0.5 ms to 10 s, for connects, banners and
  // health checks.
  static constexpr std::array<double, 14> kBounds = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  std::array<std::atomic<std::uint64_t>, kBounds.size() + 1> buckets{};  // last: above 10 s
  std::atomic<std::uint64_t> sum_us{0};

  void observe(std::chrono::microseconds d) {
    const double seconds = static_cast<double>(d.count()) / 1e6;
    std::size_t i = 0;
    while (i < kBounds.size() && seconds > kBounds[i]) ++i;
    buckets[i].fetch_add(1, std::memory_order_relaxed);
    sum_us.fetch_add(static_cast<std::uint64_t>(d.count() > 0 ? d.count() : 0),
                     std::memory_order_relaxed);
  }
};

}  // namespace sb::balancer
