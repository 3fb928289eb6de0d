#pragma once
// Live counters of one listener, shared by its acceptors on every worker and
// read by the metrics module at scrape time.

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "balancer/duration_histogram.h"
#include "metrics/exporter.h"
#include "proxy/protocols/http/h2_limits.h"

namespace sb::runtime {

enum class RejectReason : std::uint8_t { acl, limit, proxy_header };
inline constexpr std::size_t kRejectReasons = 3;

// A dns listener's answers by query type and response code (README.md "Prometheus and Grafana"
// switchboard_dns_queries_total, in the metrics module's label order), and
// what it could not answer.
struct DnsCounters {
  std::array<std::array<std::atomic<std::uint64_t>, metrics::kDnsRcodes.size()>,
             metrics::kDnsQtypes.size()>
      queries{};
  std::atomic<std::uint64_t> all_down{0};   // answered per when-all-down
  std::atomic<std::uint64_t> dropped{0};    // not a query, or an answer the socket refused
  std::atomic<std::uint64_t> truncated{0};  // TC set: the client asks over TCP
};

// An http listener's requests to one pool (switchboard_http_requests_total
// by code class, switchboard_http_request_duration_seconds). Requests that
// reached no pool (404, a route's pool gone) count under the pool "-".
struct HttpPoolCounters {
  std::array<std::atomic<std::uint64_t>, 5> by_class{};  // 1xx .. 5xx
  balancer::DurationHistogram duration;

  void count(int status, std::chrono::steady_clock::duration took) {
    const int c = status / 100;
    if (c >= 1 && c <= 5) by_class[c - 1].fetch_add(1, std::memory_order_relaxed);
    duration.observe(std::chrono::duration_cast<std::chrono::microseconds>(took));
  }
};

class HttpCounters {
 public:
  // The counters of requests to `pool`, made on first use (control thread,
  // when a handler is built); workers keep the pointer.
  std::shared_ptr<HttpPoolCounters> for_pool(const std::string& pool) {
    std::lock_guard lock(mutex_);
    auto& slot = by_pool_[pool];
    if (!slot) slot = std::make_shared<HttpPoolCounters>();
    return slot;
  }
  // For the metrics (control thread, at scrape time).
  std::vector<std::pair<std::string, std::shared_ptr<HttpPoolCounters>>> all() const {
    std::lock_guard lock(mutex_);
    return {by_pool_.begin(), by_pool_.end()};
  }

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<HttpPoolCounters>> by_pool_;
};

// A sip listener's calls and the messages it refused
// (switchboard_sip_calls_total, switchboard_sip_messages_dropped_total, in
// the metrics module's label order).
enum class SipCallResult : std::uint8_t { answered, failed_over, rejected };
enum class SipDrop : std::uint8_t { malformed, too_large, unmatched };

struct SipCounters {
  std::array<std::atomic<std::uint64_t>, metrics::kSipCallResults.size()> calls{};
  std::array<std::atomic<std::uint64_t>, metrics::kSipDropReasons.size()> dropped{};

  void count(SipCallResult r) {
    calls[static_cast<std::size_t>(r)].fetch_add(1, std::memory_order_relaxed);
  }
  void count(SipDrop d) {
    dropped[static_cast<std::size_t>(d)].fetch_add(1, std::memory_order_relaxed);
  }
};

// An smtp listener's transactions in inspect mode
// (switchboard_smtp_transactions_total, in the metrics module's label order).
enum class SmtpResult : std::uint8_t { accepted, replayed, tempfail, rejected };

struct SmtpCounters {
  std::array<std::atomic<std::uint64_t>, metrics::kSmtpResults.size()> transactions{};

  void count(SmtpResult r) {
    transactions[static_cast<std::size_t>(r)].fetch_add(1, std::memory_order_relaxed);
  }
};

// An https listener's TLS handshakes.
struct TlsCounters {
  std::atomic<std::uint64_t> ok{0};
  std::atomic<std::uint64_t> failed{0};
};

struct ListenerStats {
  std::atomic<std::uint64_t> connections_total{0};  // admitted
  std::atomic<std::int64_t> active{0};
  std::array<std::atomic<std::uint64_t>, kRejectReasons> rejected{};

  DnsCounters dns;    // dns listeners only
  HttpCounters http;  // http listeners only
  TlsCounters tls;    // listeners with tls:
  SipCounters sip;    // sip listeners
  SmtpCounters smtp;  // smtp listeners in inspect mode
  std::array<std::atomic<std::uint64_t>, metrics::kHttp2Limits.size()> h2_limits{};  // http

  void count_h2(H2Limit limit) {
    h2_limits[static_cast<std::size_t>(limit)].fetch_add(1, std::memory_order_relaxed);
  }

  void count_rejected(RejectReason r) {
    rejected[static_cast<std::size_t>(r)].fetch_add(1, std::memory_order_relaxed);
  }
};

}  // namespace sb::runtime
