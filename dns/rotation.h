#pragma once
// Is a DNS server rotating its equal-preference MX records? (`switchboard
// mx-test`, README.md "DNS round-robin and MX testing".) Across N answers, each of k hosts should
// come first about N/k times; Pearson's chi-square test against that uniform expectation gives the
// verdict.

#include <cstdint>
#include <string>
#include <vector>

namespace sb::dns {

struct RotationVerdict {
  // "even" (p >= 0.01), "uneven", "not-rotating" (one host always first),
  // or "single" (fewer than two equal-preference hosts: nothing to rotate).
  std::string verdict;
  double chi_square = 0;
  double p_value = 1;
};

RotationVerdict rotation_verdict(const std::vector<std::uint64_t>& first_counts);

// P(X >= chi_square) for X ~ chi-square with `df` degrees of freedom.
double chi_square_upper_tail(double chi_square, int df);

}  // namespace sb::dns
