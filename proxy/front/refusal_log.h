#pragma once
// Connections a listener refused, in the log without flooding it
// (docs/configuration.md, `log`): the first deny/allow or limit refusal
// after a quiet second is logged as it happens, with the client's address;
// and one line a second per reason gives the count (that first one
// included), for every reason the listener counts (acl, limit, proxy-header).
//
// Cheap where connections are refused: a relaxed load of one flag per
// refusal beside the counter ListenerStats keeps anyway, no lock. The counts
// are read from those counters on the control thread.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

#include "net/ip_address.h"
#include "proxy/config/config.h"
#include "proxy/front/listener_stats.h"

namespace sb::runtime {

class RefusalLog {
 public:
  RefusalLog(const config::ListenerConfig& cfg, const ListenerStats& stats);

  // Any worker: a connection (or datagram) from `source` was refused for
  // `reason`, and counted in the stats already.
  void refused(RejectReason reason, const net::IpAddress& source);

  // Control thread, about once a second: a line per reason with refusals
  // since the last call. A reason with none makes the next refusal for it
  // be logged as it happens again.
  void report();

 private:
  using Clock = std::chrono::steady_clock;

  std::string listener_;
  bool datagrams_;  // a dns listener refuses datagrams too
  const ListenerStats& stats_;
  // Per reason: a refusal was logged as it happened in this period.
  std::array<std::atomic<bool>, kRejectReasons> told_{};
  // Control thread: the counters at the last report.
  std::array<std::uint64_t, kRejectReasons> seen_{};
  Clock::time_point last_report_;
};

}  // namespace sb::runtime
