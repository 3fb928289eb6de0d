#include "proxy/front/refusal_log.h"

#include <spdlog/spdlog.h>

namespace sb::runtime {
namespace {

// The names of the metric's reason label (README.md "Prometheus and Grafana").
constexpr std::array<const char*, kRejectReasons> kReasonNames = {"acl", "limit", "proxy-header"};

// Refusing by deny/allow, or a client that speaks no PROXY header, is the
// configuration at work; a full listener is worth a warning.
spdlog::level::level_enum level_of(std::size_t reason) {
  return reason == static_cast<std::size_t>(RejectReason::limit) ? spdlog::level::warn
                                                                 : spdlog::level::info;
}

}  // namespace

RefusalLog::RefusalLog(const config::ListenerConfig& cfg, const ListenerStats& stats)
    : listener_(cfg.name),
      datagrams_(cfg.protocol == config::Protocol::dns),
      stats_(stats),
      last_report_(Clock::now()) {
  for (std::size_t r = 0; r < kRejectReasons; ++r) {
    seen_[r] = stats_.rejected[r].load(std::memory_order_relaxed);
  }
}

void RefusalLog::refused(RejectReason reason, const net::IpAddress& source) {
  auto& told = told_[static_cast<std::size_t>(reason)];
  // The load first: under a flood every refusal but one stops here, without
  // writing to the shared line.
  if (told.load(std::memory_order_relaxed) || told.exchange(true, std::memory_order_relaxed)) {
    return;
  }
  const auto r = static_cast<std::size_t>(reason);
  spdlog::log(level_of(r), "listener {}: refused {} ({}); more refusals are counted once a second",
              listener_, source.to_string(), kReasonNames[r]);
}

void RefusalLog::report() {
  const auto now = Clock::now();
  const double seconds = std::chrono::duration<double>(now - last_report_).count();
  last_report_ = now;
  for (std::size_t r = 0; r < kRejectReasons; ++r) {
    const std::uint64_t total = stats_.rejected[r].load(std::memory_order_relaxed);
    const std::uint64_t n = total - seen_[r];
    seen_[r] = total;
    if (n == 0) {
      told_[r].store(false, std::memory_order_relaxed);
      continue;
    }
    const char* what = datagrams_
                           ? (n == 1 ? "connection or datagram" : "connections and datagrams")
                           : (n == 1 ? "connection" : "connections");
    spdlog::log(level_of(r), "listener {}: refused {} {} ({}) in the last {:.1f}s", listener_, n,
                what, kReasonNames[r], seconds);
  }
}

}  // namespace sb::runtime
