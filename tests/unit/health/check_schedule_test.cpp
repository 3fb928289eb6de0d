// When checks run: the spread after the first check, the tick they are
// rounded to, and the jitter after that.
#include <gtest/gtest.h>

#include "health/health_checker.h"

namespace sb::health {
namespace {

TEST(Jitter, TheWaitAfterTheFirstCheckSpreadsOverTheWholeInterval) {
  const std::chrono::milliseconds interval{1000};
  EXPECT_EQ(spread(interval, 0.0).count(), 0);
  EXPECT_EQ(spread(interval, 0.5).count(), 500);
  EXPECT_LT(spread(interval, 0.999999).count(), 1000);
}

TEST(Jitter, CheckStartsAreRoundedUpToTheTick) {
  using std::chrono::milliseconds;
  using Clock = std::chrono::steady_clock;
  const Clock::time_point t(milliseconds(1000));
  EXPECT_EQ(on_tick(t), t);  // already on a tick
  EXPECT_EQ(on_tick(t + std::chrono::microseconds(1)), t + kCheckTick);
  EXPECT_EQ(on_tick(t + milliseconds(9)), t + kCheckTick);
}

TEST(Jitter, StaysWithinTenPercent) {
  const std::chrono::milliseconds interval{5000};
  EXPECT_EQ(jittered(interval, 0.0).count(), 4500);
  EXPECT_EQ(jittered(interval, 0.5).count(), 5000);
  EXPECT_LE(jittered(interval, 0.999999).count(), 5500);
  for (double u = 0; u < 1; u += 0.01) {
    const auto j = jittered(interval, u).count();
    EXPECT_GE(j, 4500);
    EXPECT_LT(j, 5500);
  }
}

}  // namespace
}  // namespace sb::health
