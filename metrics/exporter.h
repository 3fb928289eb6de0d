#pragma once
// The metrics (README.md, "Prometheus and Grafana") with prometheus-cpp's core registry. The hot
// path never touches this module: workers count in relaxed atomics (balancer's ServerStats, the
// runtime's listener and pool counters), and at scrape time the control plane hands those to
// render(), which brings each registered series up to date (counters by their increase, gauges set,
// histograms by their new bucket counts) and serialises the registry. Series are added when their
// pool, server or listener first appears and removed when it is gone (DNS change, reload), so
// dashboards see neither stale nor missing servers. The only module that includes prometheus
// headers.

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "balancer/duration_histogram.h"
#include "balancer/pool_snapshot.h"

namespace sb::metrics {

// What the control plane knows of a server beyond its snapshot entry.
struct ServerControlSample {
  double state_changed = 0;       // unix seconds
  double certificate_expiry = 0;  // unix seconds; 0: no TLS check has seen one
};

struct PoolSample {
  std::string name;
  std::shared_ptr<const balancer::PoolSnapshot> snapshot;
  std::uint64_t retries = 0;
  std::uint64_t exhausted = 0;
  // Index = the server's index in `snapshot` (missing entries read as zero).
  std::vector<ServerControlSample> servers;
};

// switchboard_dns_queries_total's label values, in the order of
// ListenerSample::dns_queries.
inline constexpr std::array<std::string_view, 6> kDnsQtypes = {"A",   "AAAA", "MX",
                                                               "SRV", "ANY",  "OTHER"};
inline constexpr std::array<std::string_view, 7> kDnsRcodes = {
    "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "BADVERS"};

// switchboard_http2_limit_hits_total's `limit` values, in the order of
// ListenerSample::h2_limits.
inline constexpr std::array<std::string_view, 8> kHttp2Limits = {
    "concurrent-streams", "resets",      "continuation", "settings-flood",
    "ping-flood",         "header-size", "idle-timeout", "protocol"};

// switchboard_sip_calls_total's `result` values and
// switchboard_sip_messages_dropped_total's `reason` values, in the order of
// ListenerSample::sip_calls and sip_dropped.
inline constexpr std::array<std::string_view, 3> kSipCallResults = {"answered", "failed-over",
                                                                    "rejected"};
inline constexpr std::array<std::string_view, 3> kSipDropReasons = {"malformed", "too-large",
                                                                    "unmatched"};
// switchboard_smtp_transactions_total's `result` values, in the order of
// ListenerSample::smtp_transactions.
inline constexpr std::array<std::string_view, 4> kSmtpResults = {"accepted", "replayed", "tempfail",
                                                                 "rejected"};

// An http listener's requests to one pool.
struct HttpSample {
  std::string pool;
  std::array<std::uint64_t, 5> by_class{};  // 1xx .. 5xx
  std::shared_ptr<const balancer::DurationHistogram> duration;
};

struct ListenerSample {
  std::string name;
  std::uint64_t connections_total = 0;
  std::int64_t active = 0;
  std::uint32_t max_connections = 0;
  std::array<std::uint64_t, 3> rejected{};  // acl, limit, proxy-header
  // dns listeners
  bool dns = false;
  std::array<std::array<std::uint64_t, kDnsRcodes.size()>, kDnsQtypes.size()> dns_queries{};
  std::uint64_t dns_all_down = 0;
  std::uint64_t dns_dropped = 0;
  std::uint64_t dns_truncated = 0;
  // http listeners
  std::vector<HttpSample> http;
  bool http_listener = false;
  std::array<std::uint64_t, kHttp2Limits.size()> h2_limits{};
  // sip listeners
  bool sip = false;
  std::array<std::uint64_t, kSipCallResults.size()> sip_calls{};
  std::array<std::uint64_t, kSipDropReasons.size()> sip_dropped{};
  // smtp listeners in inspect mode
  bool smtp_inspect = false;
  std::array<std::uint64_t, kSmtpResults.size()> smtp_transactions{};
  // listeners with tls:
  bool tls = false;
  std::uint64_t tls_ok = 0;
  std::uint64_t tls_failed = 0;
};

struct Sample {
  std::vector<PoolSample> pools;
  std::vector<ListenerSample> listeners;
  std::array<std::uint64_t, 3> resolver{};  // ok, nxdomain, error
  std::uint64_t reloads_success = 0;
  std::uint64_t reloads_failure = 0;
  double last_reload_success = 0;  // unix seconds (the start counts as one)
};

class Exporter {
 public:
  explicit Exporter(const std::string& version);
  ~Exporter();
  Exporter(const Exporter&) = delete;
  Exporter& operator=(const Exporter&) = delete;

  // The Prometheus text exposition (format 0.0.4) of `sample`. Control
  // thread only.
  std::string render(const Sample& sample);

 private:
  struct Families;
  std::unique_ptr<Families> f_;
};

// The Content-Type of render()'s output.
inline constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace sb::metrics
