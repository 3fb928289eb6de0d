#include "health/health_verdict.h"

#include <algorithm>

namespace sb::health {

HealthVerdict::HealthVerdict(int rise, int fall, bool up)
    : rise_(std::max(rise, 1)),
      fall_(std::max(fall, 1)),
      counter_(up ? rise_ + fall_ - 1 : 0),
      up_(up) {}

Transition HealthVerdict::record(bool passed) {
  const bool first = !checked_;
  checked_ = true;
  const int top = rise_ + fall_ - 1;
  if (first && !passed) return force_down();
  if (first && !up_) {  // started down: the first pass brings it up at once
    up_ = true;
    counter_ = top;
    return Transition::went_up;
  }
  if (up_) {
    if (passed) {
      counter_ = top;
      return Transition::none;
    }
    if (--counter_ < rise_) return force_down();
    return Transition::none;
  }
  if (!passed) {
    counter_ = 0;
    return Transition::none;
  }
  if (++counter_ >= rise_) {
    up_ = true;
    counter_ = top;
    return Transition::went_up;
  }
  return Transition::none;
}

Transition HealthVerdict::force_down() {
  checked_ = true;
  counter_ = 0;
  if (!up_) return Transition::none;
  up_ = false;
  return Transition::went_down;
}

}  // namespace sb::health
