#pragma once
// What an accept loop (a listener's, the admin's) does when accept(2) fails
// for a local reason (no descriptor or memory, net::is_local_fault): the
// pending connection stays in the backlog, so retrying at once would spin.
// It pauses 100 ms instead and lets connections end, and says so in the log
// at most every 10 s, not ten times a second.

#include <chrono>
#include <cstdint>
#include <string>

#include "proxy/asio.h"

namespace sb::runtime {

class AcceptPause {
 public:
  static constexpr std::chrono::milliseconds kPause{100};
  static constexpr std::chrono::seconds kReportEvery{10};

  // `who`: how the log names the loop ("listener vip", "admin").
  AcceptPause(const asio::any_io_executor& executor, std::string who);

  // After a failed accept: pauses when `ec` is a local fault, returns at
  // once otherwise (the caller accepts again).
  awaitable<void> after(const error_code& ec);

 private:
  asio::steady_timer timer_;
  std::string who_;
  std::uint64_t pauses_ = 0;  // since the last report
  std::chrono::steady_clock::time_point last_report_;
};

}  // namespace sb::runtime
