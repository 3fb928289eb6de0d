// The rotation verdict of mx-test: chi-square against an even split.
#include "dns/rotation.h"

#include <gtest/gtest.h>

namespace sb::dns {
namespace {

TEST(Rotation, AnEvenSplitIsEven) {
  const auto v = rotation_verdict({10, 10});
  EXPECT_EQ(v.verdict, "even");
  EXPECT_DOUBLE_EQ(v.chi_square, 0.0);
  EXPECT_DOUBLE_EQ(v.p_value, 1.0);
}

TEST(Rotation, OneHostAlwaysFirstIsNotRotating) {
  const auto v = rotation_verdict({20, 0, 0});
  EXPECT_EQ(v.verdict, "not-rotating");
  EXPECT_DOUBLE_EQ(v.chi_square, 40.0);
  EXPECT_LT(v.p_value, 1e-8);
}

TEST(Rotation, ASkewedSplitIsUneven) {
  EXPECT_EQ(rotation_verdict({17, 3}).verdict, "uneven");  // chi2 9.8, p 0.0017
  EXPECT_EQ(rotation_verdict({12, 8}).verdict, "even");    // chi2 0.8, p 0.37
}

TEST(Rotation, FewerThanTwoHostsHaveNothingToRotate) {
  EXPECT_EQ(rotation_verdict({20}).verdict, "single");
  EXPECT_EQ(rotation_verdict({}).verdict, "single");
}

// Known values of the chi-square distribution's upper tail.
TEST(Rotation, ChiSquareUpperTail) {
  EXPECT_NEAR(chi_square_upper_tail(3.841, 1), 0.05, 1e-3);
  EXPECT_NEAR(chi_square_upper_tail(5.991, 2), 0.05, 1e-3);
  EXPECT_NEAR(chi_square_upper_tail(0.4, 1), 0.5271, 1e-3);
  EXPECT_NEAR(chi_square_upper_tail(20.0, 10), 0.02925, 1e-4);
  EXPECT_NEAR(chi_square_upper_tail(0.0, 3), 1.0, 1e-12);
}

}  // namespace
}  // namespace sb::dns
