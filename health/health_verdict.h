#pragma once
// Rise/fall hysteresis for one server (docs/configuration.md), as a pure value type.
//
// A new server is assumed up. Its first check decides at once: one failure
// marks it down. After that it takes `rise` consecutive passes to go up and
// `fall` consecutive failures to go down — HAProxy's single health counter in
// [0, rise+fall-1], "up iff >= rise", reset to the ends on each transition so
// that the counts are consecutive.

#include <cstdint>

namespace sb::health {

enum class Transition : std::uint8_t { none, went_up, went_down };

class HealthVerdict {
 public:
  // `up` false: a server that is down when its check starts (a reload that
  // changed the check); its first check decides at once, either way.
  HealthVerdict(int rise, int fall, bool up = true);

  Transition record(bool passed);
  // A passive ejection (outlier): down now, checks must then pass `rise` times.
  Transition force_down();

  bool up() const { return up_; }
  bool first_check_done() const { return checked_; }

 private:
  int rise_;
  int fall_;
  int counter_;  // [0, rise+fall-1]
  bool up_ = true;
  bool checked_ = false;
};

}  // namespace sb::health
