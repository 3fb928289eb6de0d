#pragma once
// Faults that the integration tests inject into a running switchboard, to
// show what it does when a worker's loop throws, stalls, or finds no pipe.
// Compiled in only with -DSWITCHBOARD_FAULT_HOOKS=ON (scripts/test builds
// so); in any other build armed_fault() is a constant `none` and the
// environment variable below does nothing.
//
//   SWITCHBOARD_TEST_FAULT=worker-throw       every accepted connection also
//                                             posts a handler that throws
//   SWITCHBOARD_TEST_FAULT=accept-loop-throw  the accept loop throws after
//                                             each accept
//   SWITCHBOARD_TEST_FAULT=worker-stall       the second accepted connection
//                                             blocks its worker for 15 s
//   SWITCHBOARD_TEST_FAULT=no-pipe            the relay never gets a pipe

namespace sb::runtime {

enum class Fault { none, worker_throw, accept_loop_throw, worker_stall, no_pipe };

#ifdef SWITCHBOARD_FAULT_HOOKS
Fault armed_fault();  // read once, at the first call
#else
constexpr Fault armed_fault() {
  return Fault::none;
}
#endif

}  // namespace sb::runtime
