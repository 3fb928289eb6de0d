#include "health/health_checker.h"

#include <algorithm>
#include <boost/asio.hpp>

namespace sb::health {

namespace asio = boost::asio;

std::chrono::milliseconds jittered(std::chrono::milliseconds interval, double u) {
  const double factor = 0.9 + 0.2 * u;
  return std::chrono::milliseconds(
      static_cast<std::int64_t>(static_cast<double>(interval.count()) * factor));
}

std::chrono::steady_clock::time_point on_tick(std::chrono::steady_clock::time_point t) {
  const auto since = t.time_since_epoch();
  const auto ticks = (since + kCheckTick - std::chrono::nanoseconds(1)) / kCheckTick;
  return std::chrono::steady_clock::time_point(
      std::chrono::duration_cast<std::chrono::steady_clock::duration>(ticks * kCheckTick));
}

std::chrono::milliseconds spread(std::chrono::milliseconds interval, double u) {
  return std::chrono::milliseconds(
      static_cast<std::int64_t>(static_cast<double>(interval.count()) * u));
}

HealthChecker::HealthChecker(asio::any_io_executor executor, Report report, std::uint64_t seed)
    : executor_(std::move(executor)), report_(std::move(report)), random_(seed) {}

void HealthChecker::add(std::size_t target, CheckSpec spec, bool up) {
  const int rise = spec.rise, fall = spec.fall;
  loops_.push_back(Loop{target,
                        std::move(spec),
                        HealthVerdict(rise, fall, up),
                        asio::steady_timer(executor_),
                        {},
                        false,
                        KeptConnection{}});
  asio::co_spawn(executor_, run(std::prev(loops_.end())), asio::detached);
}

const CheckSpec* HealthChecker::spec_of(std::size_t target) {
  const auto it = find(target);
  return it == loops_.end() ? nullptr : &it->spec;
}

std::list<HealthChecker::Loop>::iterator HealthChecker::find(std::size_t target) {
  return std::find_if(loops_.begin(), loops_.end(),
                      [&](const Loop& l) { return l.target == target && !l.removed; });
}

void HealthChecker::remove(std::size_t target) {
  const auto it = find(target);
  if (it == loops_.end()) return;
  it->removed = true;  // its coroutine erases it when it wakes
  it->timer.cancel();
}

bool HealthChecker::eject(std::size_t target, std::string reason) {
  const auto it = find(target);
  if (it == loops_.end()) return false;
  it->ejected_at = std::chrono::steady_clock::now();
  ProbeResult r;
  r.detail = std::move(reason);
  report_(target, r, it->verdict.force_down());
  return true;
}

void HealthChecker::stop() {
  *stopped_ = true;
  for (auto& loop : loops_) loop.timer.cancel();
}

asio::awaitable<void> HealthChecker::run(std::list<Loop>::iterator it) {
  const auto stopped = stopped_;  // outlives this object's loops if need be
  Loop& loop = *it;
  bool first = true;
  for (;;) {
    const auto started = std::chrono::steady_clock::now();
    const ProbeResult result = co_await probe(loop.spec, loop.kept);
    if (*stopped) co_return;
    if (loop.removed) break;
    // A check that started before an ejection is shown but does not count:
    // its pass would speak of the server as it was before the failures.
    // A probe that could not run here (no descriptor, memory or source
    // port) says nothing of the server: shown, counted as an error, and
    // retried soon, but no verdict (docs/configuration.md, "Local faults").
    const bool stale = started <= loop.ejected_at;
    const bool verdict = !stale && !result.local_fault;
    report_(loop.target, result, verdict ? loop.verdict.record(result.ok) : Transition::none);
    const double u = static_cast<double>(random_.next() >> 11) / 9007199254740992.0;  // 2^53
    // Every server's first check runs at start (docs/configuration.md), so they all run
    // together; the wait after it is a random part of the interval, which
    // spreads the checks evenly over it from then on (HAProxy staggers its
    // start the same way). ±10% jitter after that keeps them apart.
    auto wait = first ? spread(loop.spec.interval, u) : jittered(loop.spec.interval, u);
    if (result.local_fault) wait = std::min(wait, kLocalFaultRetry);
    loop.timer.expires_at(on_tick(std::chrono::steady_clock::now() + wait));
    first = first && result.local_fault;  // the first verdict is still to come
    // Cancelled by stop() or remove(): the flags below say which.
    co_await loop.timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (*stopped) co_return;
    if (loop.removed) break;
  }
  loops_.erase(it);
}

}  // namespace sb::health
