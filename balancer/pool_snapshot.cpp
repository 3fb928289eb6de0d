#include "balancer/pool_snapshot.h"

namespace sb::balancer {

EffectiveState ServerView::state() const {
  // Operator intent wins over health: a disabled server shows as disabled
  // even when its checks fail, so the operator sees what they set.
  if (admin == AdminState::disabled) return EffectiveState::disabled;
  if (admin == AdminState::drain) return EffectiveState::drain;
  return health == Health::up ? EffectiveState::up : EffectiveState::down;
}

std::string_view to_string(EffectiveState s) {
  switch (s) {
    case EffectiveState::up:
      return "up";
    case EffectiveState::down:
      return "down";
    case EffectiveState::drain:
      return "drain";
    case EffectiveState::disabled:
      return "disabled";
  }
  return "unknown";
}

std::string_view to_string(AdminState s) {
  switch (s) {
    case AdminState::enabled:
      return "enabled";
    case AdminState::drain:
      return "drain";
    case AdminState::disabled:
      return "disabled";
  }
  return "unknown";
}

}  // namespace sb::balancer
