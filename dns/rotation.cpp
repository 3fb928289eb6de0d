#include "dns/rotation.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace sb::dns {
namespace {

// Regularised upper incomplete gamma Q(s, x): a series below s + 1, a
// continued fraction above (Numerical Recipes, gammq).
double gamma_q(double s, double x) {
  if (x <= 0) return 1.0;
  const double log_prefix = s * std::log(x) - x - std::lgamma(s);
  if (x < s + 1) {
    double term = 1.0 / s, sum = term;
    for (int n = 1; n < 500; ++n) {
      term *= x / (s + n);
      sum += term;
      if (std::fabs(term) < std::fabs(sum) * 1e-15) break;
    }
    return 1.0 - sum * std::exp(log_prefix);
  }
  constexpr double tiny = 1e-300;
  double b = x + 1 - s, c = 1 / tiny, d = 1 / b, h = d;
  for (int i = 1; i < 500; ++i) {
    const double an = -i * (i - s);
    b += 2;
    d = an * d + b;
    if (std::fabs(d) < tiny) d = tiny;
    c = b + an / c;
    if (std::fabs(c) < tiny) c = tiny;
    d = 1 / d;
    const double delta = d * c;
    h *= delta;
    if (std::fabs(delta - 1) < 1e-15) break;
  }
  return std::exp(log_prefix) * h;
}

}  // namespace

double chi_square_upper_tail(double chi_square, int df) {
  if (df <= 0) return 1.0;
  return std::clamp(gamma_q(df / 2.0, chi_square / 2.0), 0.0, 1.0);
}

RotationVerdict rotation_verdict(const std::vector<std::uint64_t>& counts) {
  RotationVerdict v;
  const std::uint64_t total = std::accumulate(counts.begin(), counts.end(), std::uint64_t{0});
  if (counts.size() < 2 || total == 0) {
    v.verdict = "single";
    return v;
  }
  const double expected = static_cast<double>(total) / static_cast<double>(counts.size());
  for (const auto c : counts) {
    const double diff = static_cast<double>(c) - expected;
    v.chi_square += diff * diff / expected;
  }
  v.p_value = chi_square_upper_tail(v.chi_square, static_cast<int>(counts.size()) - 1);
  const bool one_first = std::count(counts.begin(), counts.end(), total) == 1;
  if (one_first && total > 1) {
    v.verdict = "not-rotating";
  } else {
    v.verdict = v.p_value >= 0.01 ? "even" : "uneven";
  }
  return v;
}

}  // namespace sb::dns
