#pragma once
// Thrown when an address cannot be bound (listeners, the admin server);
// what() names the address. `run` exits 3 with it; a reload is refused.

#include <stdexcept>

namespace sb::runtime {

struct ListenError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace sb::runtime
