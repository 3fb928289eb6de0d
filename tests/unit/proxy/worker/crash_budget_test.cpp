#include "proxy/worker/crash_budget.h"

#include <gtest/gtest.h>

namespace sb::runtime {
namespace {

using namespace std::chrono_literals;
using Clock = CrashBudget::Clock;

TEST(CrashBudgetTest, AllowsTenCrashesWithinAMinuteAndRefusesTheEleventh) {
  CrashBudget budget;
  const auto t0 = Clock::time_point(1h);
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(budget.allow(t0 + i * 1s)) << i;
  EXPECT_FALSE(budget.allow(t0 + 10s));
}

TEST(CrashBudgetTest, CrashesOlderThanTheWindowNoLongerCount) {
  CrashBudget budget;
  const auto t0 = Clock::time_point(1h);
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(budget.allow(t0 + i * 1s));
  // The first crash is now more than a minute old: ten within the window.
  EXPECT_TRUE(budget.allow(t0 + 61s));
  // A steady crash every 7 s is 9 a minute at most: always restarted.
  CrashBudget steady;
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(steady.allow(t0 + i * 7s)) << i;
}

TEST(CrashBudgetTest, ABurstAfterAQuietSpellIsRefusedAtItsEleventhCrash) {
  CrashBudget budget;
  const auto t0 = Clock::time_point(1h);
  EXPECT_TRUE(budget.allow(t0));
  const auto later = t0 + 10min;
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(budget.allow(later + i * 100ms)) << i;
  EXPECT_FALSE(budget.allow(later + 1s));
}

}  // namespace
}  // namespace sb::runtime
