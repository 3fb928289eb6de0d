#pragma once
// How many times a worker's loops may end by an exception and be restarted
// (docs/architecture.md, "When a worker fails"). A loop that dies and is not
// restarted leaves its SO_REUSEPORT socket open, and the kernel keeps giving
// it a share of new connections that nobody accepts; restarting it is
// better, but a fault that repeats is better met by ending the process
// (exit 3) so that systemd restarts it whole.

#include <array>
#include <chrono>
#include <cstddef>

namespace sb::runtime {

class CrashBudget {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::size_t kMaxCrashes = 10;
  static constexpr std::chrono::seconds kWindow{60};

  // Records a crash at `now`: true while at most kMaxCrashes happened within
  // the last kWindow (the loop may restart), false beyond.
  bool allow(Clock::time_point now) {
    const auto oldest = crashes_[next_ % kMaxCrashes];
    const bool full = count_ >= kMaxCrashes;
    crashes_[next_++ % kMaxCrashes] = now;
    ++count_;
    return !full || now - oldest > kWindow;
  }

 private:
  std::array<Clock::time_point, kMaxCrashes> crashes_{};
  std::size_t next_ = 0;
  std::size_t count_ = 0;
};

}  // namespace sb::runtime
