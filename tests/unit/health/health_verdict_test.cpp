#include "health/health_verdict.h"

#include <gtest/gtest.h>

namespace sb::health {
namespace {

TEST(HealthVerdict, NewServerIsUpAndFirstFailureMarksDownAtOnce) {
  HealthVerdict v(2, 3);
  EXPECT_TRUE(v.up());
  EXPECT_FALSE(v.first_check_done());
  EXPECT_EQ(v.record(false), Transition::went_down);
  EXPECT_FALSE(v.up());
  EXPECT_TRUE(v.first_check_done());
}

TEST(HealthVerdict, FirstPassKeepsUp) {
  HealthVerdict v(2, 3);
  EXPECT_EQ(v.record(true), Transition::none);
  EXPECT_TRUE(v.up());
}

TEST(HealthVerdict, FallConsecutiveFailuresMarkDown) {
  for (int fall = 1; fall <= 5; ++fall) {
    HealthVerdict v(2, fall);
    v.record(true);
    for (int i = 1; i < fall; ++i) EXPECT_EQ(v.record(false), Transition::none) << fall;
    EXPECT_EQ(v.record(false), Transition::went_down) << fall;
  }
}

TEST(HealthVerdict, RiseConsecutivePassesMarkUp) {
  for (int rise = 1; rise <= 5; ++rise) {
    HealthVerdict v(rise, 3);
    v.record(false);
    for (int i = 1; i < rise; ++i) EXPECT_EQ(v.record(true), Transition::none) << rise;
    EXPECT_EQ(v.record(true), Transition::went_up) << rise;
  }
}

TEST(HealthVerdict, APassInBetweenResetsTheFailureCount) {
  HealthVerdict v(2, 3);
  v.record(true);
  v.record(false);
  v.record(false);
  EXPECT_EQ(v.record(true), Transition::none);
  EXPECT_EQ(v.record(false), Transition::none);
  EXPECT_EQ(v.record(false), Transition::none);
  EXPECT_EQ(v.record(false), Transition::went_down);
}

TEST(HealthVerdict, AFailureInBetweenResetsTheRiseCount) {
  HealthVerdict v(3, 2);
  v.record(false);
  v.record(true);
  v.record(true);
  EXPECT_EQ(v.record(false), Transition::none);
  EXPECT_EQ(v.record(true), Transition::none);
  EXPECT_EQ(v.record(true), Transition::none);
  EXPECT_EQ(v.record(true), Transition::went_up);
}

TEST(HealthVerdict, ForceDownNeedsRisePassesToReturn) {
  HealthVerdict v(2, 3);
  v.record(true);
  EXPECT_EQ(v.force_down(), Transition::went_down);
  EXPECT_EQ(v.force_down(), Transition::none);
  EXPECT_EQ(v.record(true), Transition::none);
  EXPECT_EQ(v.record(true), Transition::went_up);
}

// A reload that changes a down server's check: the new check decides at once.
TEST(HealthVerdict, StartedDownFirstPassBringsItUpAtOnce) {
  HealthVerdict v(3, 3, /*up=*/false);
  EXPECT_FALSE(v.up());
  EXPECT_EQ(v.record(true), Transition::went_up);
  EXPECT_TRUE(v.up());
  // From then on the usual counts: 3 failures to go down.
  EXPECT_EQ(v.record(false), Transition::none);
  EXPECT_EQ(v.record(false), Transition::none);
  EXPECT_EQ(v.record(false), Transition::went_down);
}

TEST(HealthVerdict, StartedDownFirstFailureStaysDownWithoutATransition) {
  HealthVerdict v(2, 3, /*up=*/false);
  EXPECT_EQ(v.record(false), Transition::none);
  EXPECT_FALSE(v.up());
  EXPECT_EQ(v.record(true), Transition::none);
  EXPECT_EQ(v.record(true), Transition::went_up);
}

}  // namespace
}  // namespace sb::health
