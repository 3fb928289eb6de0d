#pragma once
// Effective weights under slow start, in thousandths of a weight unit so that
// the first moments of a ramp give a share near zero rather than a whole unit.

#include <algorithm>
#include <chrono>
#include <cstdint>

#include "balancer/pool_snapshot.h"

namespace sb::balancer {

inline constexpr std::int64_t kWeightScale = 1000;

class SlowStart {
 public:
  explicit SlowStart(std::chrono::milliseconds window) : window_(window) {}

  bool enabled() const { return window_.count() > 0; }
  std::chrono::milliseconds window() const { return window_; }

  // True when `s` is still ramping at `now`.
  // A server that has never come back (up_since unset) does not ramp: slow
  // start follows a recovery, not the start of the process.
  bool ramping(const ServerView& s, std::chrono::steady_clock::time_point now) const {
    return enabled() && s.up_since != std::chrono::steady_clock::time_point{} &&
           now - s.up_since < window_;
  }

  // The server's weight x kWeightScale, scaled by how far into the window
  // it is; at least 1 so that a ramping server is never excluded outright.
  std::int64_t weight(const ServerView& s, std::chrono::steady_clock::time_point now) const {
    const std::int64_t full = static_cast<std::int64_t>(s.weight) * kWeightScale;
    if (!ramping(s, now)) return full;
    const auto elapsed = std::max<std::int64_t>(
        0, std::chrono::duration_cast<std::chrono::milliseconds>(now - s.up_since).count());
    return std::max<std::int64_t>(1, full * elapsed / window_.count());
  }

 private:
  std::chrono::milliseconds window_;
};

}  // namespace sb::balancer
