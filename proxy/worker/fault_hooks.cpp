#include "proxy/worker/fault_hooks.h"

#ifdef SWITCHBOARD_FAULT_HOOKS
#include <cstdlib>
#include <string_view>

namespace sb::runtime {

Fault armed_fault() {
  static const Fault fault = [] {
    const char* v = std::getenv("SWITCHBOARD_TEST_FAULT");
    const std::string_view name = v ? v : "";
    if (name == "worker-throw") return Fault::worker_throw;
    if (name == "accept-loop-throw") return Fault::accept_loop_throw;
    if (name == "worker-stall") return Fault::worker_stall;
    if (name == "no-pipe") return Fault::no_pipe;
    return Fault::none;
  }();
  return fault;
}

}  // namespace sb::runtime
#endif
