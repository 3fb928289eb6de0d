#pragma once
// Runs the active checks of every server on the control-plane io_context:
// one loop per server (first check at once, the second after a random part
// of the interval, then every interval with ±10% jitter, so that checks
// spread out and do not synchronise), each result fed to that
// server's HealthVerdict, and every result reported — transitions included —
// to the owner, which publishes new pool snapshots. Health is decided here
// once, not per worker.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <list>
#include <memory>

#include "balancer/hash.h"
#include "health/check_spec.h"
#include "health/health_verdict.h"
#include "health/probe.h"

namespace sb::health {

// Check start times are rounded up to this tick, so that the checks due
// in one tick start together and the loop wakes once for all of them (as
// HAProxy's millisecond task ticks do): with 1000 servers a second, one
// wakeup per check cost more CPU than the checks' own work.
inline constexpr std::chrono::milliseconds kCheckTick{10};
// A probe that failed for a local reason is tried again after at most this
// long (sooner when the interval is shorter).
inline constexpr std::chrono::milliseconds kLocalFaultRetry{1000};
std::chrono::steady_clock::time_point on_tick(std::chrono::steady_clock::time_point t);

// interval x u, u in [0, 1): the wait after a server's first check.
std::chrono::milliseconds spread(std::chrono::milliseconds interval, double u);
// interval x (0.9 + 0.2 x u), u in [0, 1): the waits after that.
std::chrono::milliseconds jittered(std::chrono::milliseconds interval, double u);

class HealthChecker {
 public:
  // Called on the control thread after every probe of `target`.
  using Report =
      std::function<void(std::size_t target, const ProbeResult& result, Transition transition)>;

  HealthChecker(boost::asio::any_io_executor executor, Report report, std::uint64_t seed);
  HealthChecker(const HealthChecker&) = delete;
  HealthChecker& operator=(const HealthChecker&) = delete;

  // Starts checking `target` (an id of the owner's choosing) per `spec`.
  // `up`: its health now (a new server is assumed up, docs/configuration.md); the first
  // check decides at once either way.
  void add(std::size_t target, CheckSpec spec, bool up = true);
  // The check `target` runs now, if any.
  const CheckSpec* spec_of(std::size_t target);
  // Stops checking `target` (a server that DNS discovery removed): no report
  // about it follows, even from a probe in flight.
  void remove(std::size_t target);
  // Passive health: `target` failed real traffic too often. It is down now,
  // and its checks decide when it comes back: `rise` passes in a row of
  // checks that started after the ejection (a check in flight speaks of the
  // server before it). Envoy's outlier detection does the same: a restarted
  // server is back within `rise` intervals, not a whole ejection-time later.
  // Reported through the Report callback like a check, with `reason` as the
  // detail. False when `target` is not checked here.
  bool eject(std::size_t target, std::string reason);

  // Stops every loop after its current probe.
  void stop();

 private:
  struct Loop {
    std::size_t target;
    CheckSpec spec;
    HealthVerdict verdict;
    boost::asio::steady_timer timer;
    std::chrono::steady_clock::time_point ejected_at{};  // the last ejection
    bool removed = false;
    KeptConnection kept;  // http/https: the connection kept for the next check
  };
  boost::asio::awaitable<void> run(std::list<Loop>::iterator loop);
  std::list<Loop>::iterator find(std::size_t target);

  boost::asio::any_io_executor executor_;
  Report report_;
  balancer::Random random_;
  std::list<Loop> loops_;  // stable addresses for the coroutines; each erases its own
  std::shared_ptr<bool> stopped_ = std::make_shared<bool>(false);
};

}  // namespace sb::health
