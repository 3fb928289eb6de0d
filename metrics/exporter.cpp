#include "metrics/exporter.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <map>
#include <set>
#include <sstream>

#include "metrics/process_stats.h"

namespace sb::metrics {
namespace {

using prometheus::Counter;
using prometheus::Family;
using prometheus::Gauge;
using prometheus::Histogram;
using prometheus::Labels;

constexpr std::array<const char*, 4> kStates = {"up", "down", "drain", "disabled"};
constexpr std::array<const char*, balancer::kConnectFailureKinds> kFailures = {
    "refused", "timeout", "banner", "tls", "reset"};
constexpr std::array<const char*, balancer::kCheckResults> kCheckResults = {"pass", "fail",
                                                                            "timeout", "error"};
constexpr std::array<const char*, 3> kRejects = {"acl", "limit", "proxy-header"};
constexpr std::array<const char*, 3> kResolverResults = {"ok", "nxdomain", "error"};

const Histogram::BucketBoundaries& bounds() {
  static const Histogram::BucketBoundaries b(balancer::DurationHistogram::kBounds.begin(),
                                             balancer::DurationHistogram::kBounds.end());
  return b;
}

Family<Counter>& counter(prometheus::Registry& r, const char* name, const char* help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(r);
}
Family<Gauge>& gauge(prometheus::Registry& r, const char* name, const char* help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(r);
}
Family<Histogram>& histogram(prometheus::Registry& r, const char* name, const char* help) {
  return prometheus::BuildHistogram().Name(name).Help(help).Register(r);
}

// Counters only grow; the atomics they mirror may have been counted from
// another object (a server re-created): never go back.
void sync(Counter& c, double value) {
  const double now = c.Value();
  if (value > now) c.Increment(value - now);
}

void sync(Histogram& h, const balancer::DurationHistogram& d) {
  const auto current = h.Collect().histogram;
  std::vector<double> increments(d.buckets.size(), 0.0);
  std::uint64_t below = 0;
  bool any = false;
  for (std::size_t i = 0; i < d.buckets.size() && i < current.bucket.size(); ++i) {
    const std::uint64_t have = current.bucket[i].cumulative_count - below;
    below = current.bucket[i].cumulative_count;
    const std::uint64_t now = d.buckets[i].load(std::memory_order_relaxed);
    if (now > have) {
      increments[i] = static_cast<double>(now - have);
      any = true;
    }
  }
  if (!any) return;
  const double sum = static_cast<double>(d.sum_us.load(std::memory_order_relaxed)) / 1e6;
  h.ObserveMultiple(increments, std::max(0.0, sum - current.sample_sum));
}

template <class T>
void remove_all(Family<T>& family, std::initializer_list<T*> metrics) {
  for (T* m : metrics) family.Remove(m);
}

}  // namespace

struct Exporter::Families {
  prometheus::Registry registry;
  Family<Gauge>& build_info = gauge(registry, "switchboard_build_info", "switchboard's version");
  // servers
  Family<Gauge>& server_up = gauge(registry, "switchboard_server_up",
                                   "1 while the server takes new connections (up and enabled)");
  Family<Gauge>& server_state =
      gauge(registry, "switchboard_server_state", "The server's effective state, one-hot");
  Family<Gauge>& server_weight = gauge(registry, "switchboard_server_weight", "Configured weight");
  Family<Gauge>& server_active =
      gauge(registry, "switchboard_server_active_connections", "Open connections to the server");
  Family<Counter>& server_connections =
      counter(registry, "switchboard_server_connections_total", "Connections made to the server");
  Family<Counter>& server_failures = counter(registry, "switchboard_server_connect_failures_total",
                                             "Connections the server did not accept, by reason");
  Family<Counter>& server_bytes = counter(registry, "switchboard_server_bytes_total",
                                          "Bytes sent to (out) and received from (in) the server");
  Family<Histogram>& connect_duration =
      histogram(registry, "switchboard_server_connect_duration_seconds",
                "Time to connect to the server (and send the PROXY header)");
  Family<Histogram>& response_duration =
      histogram(registry, "switchboard_server_response_duration_seconds",
                "Time to the server's first answer (banner, first HTTP byte, SIP final)");
  Family<Counter>& checks =
      counter(registry, "switchboard_health_checks_total", "Active health checks, by result");
  Family<Histogram>& check_duration = histogram(
      registry, "switchboard_health_check_duration_seconds", "Duration of active health checks");
  Family<Counter>& state_changes = counter(registry, "switchboard_server_state_changes_total",
                                           "Health transitions of the server");
  Family<Gauge>& server_health =
      gauge(registry, "switchboard_server_health",
            "1 while the checks say the server is up, whatever its admin state");
  Family<Gauge>& server_last_change =
      gauge(registry, "switchboard_server_last_change_timestamp_seconds",
            "When the server's state (switchboard_server_state) last changed");
  Family<Gauge>& server_certificate_expiry =
      gauge(registry, "switchboard_server_certificate_expiry_timestamp_seconds",
            "notAfter of the certificate the server's last TLS check (starttls, https) saw; 0 "
            "before one has");
  // pools
  Family<Gauge>& pool_up =
      gauge(registry, "switchboard_pool_servers_up", "Servers of the pool that are up");
  Family<Counter>& pool_retries = counter(registry, "switchboard_pool_retries_total",
                                          "Connections presented to a further server");
  Family<Counter>& pool_exhausted = counter(registry, "switchboard_pool_exhausted_total",
                                            "Connections that no server of the pool accepted");
  // listeners
  Family<Counter>& listener_connections = counter(
      registry, "switchboard_listener_connections_total", "Connections admitted by the listener");
  Family<Gauge>& listener_active = gauge(registry, "switchboard_listener_active_connections",
                                         "Open connections of the listener");
  Family<Gauge>& listener_max =
      gauge(registry, "switchboard_listener_max_connections", "The listener's max-connections");
  Family<Counter>& listener_rejected = counter(registry, "switchboard_listener_rejected_total",
                                               "Connections refused at once, by reason");
  Family<Counter>& dns_queries =
      counter(registry, "switchboard_dns_queries_total",
              "Queries answered by the dns listener, by query type and response code");
  Family<Counter>& dns_all_down =
      counter(registry, "switchboard_dns_all_down_answers_total",
              "Answers given while no server of the record's pool was up (when-all-down)");
  Family<Counter>& dns_dropped =
      counter(registry, "switchboard_dns_dropped_total",
              "Queries not answered: no query, over 512 bytes (TCP), or an answer not taken");
  Family<Counter>& dns_truncated = counter(registry, "switchboard_dns_truncated_total",
                                           "UDP answers sent with TC set (too large)");
  Family<Counter>& http_requests =
      counter(registry, "switchboard_http_requests_total",
              "HTTP requests answered by the listener, by pool and status class");
  Family<Histogram>& http_duration =
      histogram(registry, "switchboard_http_request_duration_seconds",
                "Time from a request's headers to the end of its response");
  Family<Counter>& tls_handshakes = counter(registry, "switchboard_tls_handshakes_total",
                                            "TLS handshakes with clients, by result");
  Family<Counter>& http2_limits =
      counter(registry, "switchboard_http2_limit_hits_total",
              "HTTP/2 clients that ran into a limit (refused stream, GOAWAY, closed), by limit");
  Family<Counter>& sip_calls =
      counter(registry, "switchboard_sip_calls_total",
              "Calls (INVITEs) through a sip listener, by result: answered by the first "
              "server, answered after failing over, or rejected");
  Family<Counter>& sip_dropped =
      counter(registry, "switchboard_sip_messages_dropped_total",
              "SIP messages a sip listener refused (400 or dropped), by reason");
  Family<Counter>& smtp_transactions =
      counter(registry, "switchboard_smtp_transactions_total",
              "SMTP transactions an smtp listener in inspect mode finished, by result: accepted "
              "by the first server, accepted after a replay, tempfail (4xx to the client) or "
              "rejected (5xx)");
  // control plane
  Family<Counter>& resolver = counter(registry, "switchboard_resolver_queries_total",
                                      "DNS lookups for server discovery, by result");
  Family<Counter>& reloads =
      counter(registry, "switchboard_config_reloads_total", "Configuration reloads, by result");
  Family<Gauge>& last_reload =
      gauge(registry, "switchboard_config_last_reload_success_timestamp_seconds",
            "When the running configuration was loaded");
  // process
  Family<Counter>& cpu = counter(registry, "process_cpu_seconds_total",
                                 "Total user and system CPU time spent in seconds.");
  Family<Gauge>& rss =
      gauge(registry, "process_resident_memory_bytes", "Resident memory size in bytes.");
  Family<Gauge>& vsize =
      gauge(registry, "process_virtual_memory_bytes", "Virtual memory size in bytes.");
  Family<Gauge>& fds = gauge(registry, "process_open_fds", "Number of open file descriptors.");
  Family<Gauge>& max_fds =
      gauge(registry, "process_max_fds", "Maximum number of open file descriptors.");
  Family<Gauge>& start = gauge(registry, "process_start_time_seconds",
                               "Start time of the process since unix epoch in seconds.");

  struct Server {
    const balancer::ServerStats* stats = nullptr;
    Gauge* up;
    std::array<Gauge*, kStates.size()> state;
    Gauge* weight;
    Gauge* active;
    Counter* connections;
    std::array<Counter*, kFailures.size()> failures;
    Counter* bytes_in;
    Counter* bytes_out;
    Histogram* connect;
    Histogram* response;
    std::array<Counter*, kCheckResults.size()> checks;
    Histogram* check;
    Counter* to_up;
    Counter* to_down;
    Gauge* health;
    Gauge* last_change;
    Gauge* certificate_expiry;
  };
  std::map<std::pair<std::string, std::string>, Server> servers;
  struct Pool {
    Gauge* up;
    Counter* retries;
    Counter* exhausted;
  };
  std::map<std::string, Pool> pools;
  struct Listener {
    Counter* connections;
    Gauge* active;
    Gauge* max;
    std::array<Counter*, kRejects.size()> rejected;
    // dns listeners
    std::array<std::array<Counter*, kDnsRcodes.size()>, kDnsQtypes.size()> queries{};
    Counter* all_down = nullptr;
    Counter* dropped = nullptr;
    Counter* truncated = nullptr;
    // http listeners, by pool
    struct Http {
      std::array<Counter*, 5> by_class{};
      Histogram* duration = nullptr;
    };
    std::map<std::string, Http> http;
    Counter* tls_ok = nullptr;
    Counter* tls_failed = nullptr;
    std::array<Counter*, kHttp2Limits.size()> h2_limits{};
    std::array<Counter*, kSipCallResults.size()> sip_calls{};
    std::array<Counter*, kSipDropReasons.size()> sip_dropped{};
    std::array<Counter*, kSmtpResults.size()> smtp_transactions{};
  };
  std::map<std::string, Listener> listeners;
  std::array<Counter*, kResolverResults.size()> resolver_series{};
  Counter* reload_ok;
  Counter* reload_failed;
  Gauge* reload_at;

  Server add_server(const std::string& pool, const std::string& name,
                    const balancer::ServerStats* stats) {
    const Labels l{{"pool", pool}, {"server", name}};
    const auto with = [&](const char* key, const char* value) {
      Labels more = l;
      more[key] = value;
      return more;
    };
    Server s;
    s.stats = stats;
    s.up = &server_up.Add(l);
    for (std::size_t i = 0; i < kStates.size(); ++i) {
      s.state[i] = &server_state.Add(with("state", kStates[i]));
    }
    s.weight = &server_weight.Add(l);
    s.active = &server_active.Add(l);
    s.connections = &server_connections.Add(l);
    for (std::size_t i = 0; i < kFailures.size(); ++i) {
      s.failures[i] = &server_failures.Add(with("reason", kFailures[i]));
    }
    s.bytes_in = &server_bytes.Add(with("direction", "in"));
    s.bytes_out = &server_bytes.Add(with("direction", "out"));
    s.connect = &connect_duration.Add(l, bounds());
    s.response = &response_duration.Add(l, bounds());
    for (std::size_t i = 0; i < kCheckResults.size(); ++i) {
      s.checks[i] = &checks.Add(with("result", kCheckResults[i]));
    }
    s.check = &check_duration.Add(l, bounds());
    s.to_up = &state_changes.Add(with("to", "up"));
    s.to_down = &state_changes.Add(with("to", "down"));
    s.health = &server_health.Add(l);
    s.last_change = &server_last_change.Add(l);
    s.certificate_expiry = &server_certificate_expiry.Add(l);
    return s;
  }

  void remove_server(const Server& s) {
    server_up.Remove(s.up);
    for (Gauge* g : s.state) server_state.Remove(g);
    server_weight.Remove(s.weight);
    server_active.Remove(s.active);
    server_connections.Remove(s.connections);
    for (Counter* c : s.failures) server_failures.Remove(c);
    remove_all(server_bytes, {s.bytes_in, s.bytes_out});
    connect_duration.Remove(s.connect);
    response_duration.Remove(s.response);
    for (Counter* c : s.checks) checks.Remove(c);
    check_duration.Remove(s.check);
    remove_all(state_changes, {s.to_up, s.to_down});
    server_health.Remove(s.health);
    server_last_change.Remove(s.last_change);
    server_certificate_expiry.Remove(s.certificate_expiry);
  }
};

Exporter::Exporter(const std::string& version) : f_(std::make_unique<Families>()) {
  f_->build_info.Add({{"version", version}}).Set(1);
  for (std::size_t i = 0; i < kResolverResults.size(); ++i) {
    f_->resolver_series[i] = &f_->resolver.Add({{"result", kResolverResults[i]}});
  }
  f_->reload_ok = &f_->reloads.Add({{"result", "success"}});
  f_->reload_failed = &f_->reloads.Add({{"result", "failure"}});
  f_->reload_at = &f_->last_reload.Add({});
  f_->cpu.Add({});
  f_->rss.Add({});
  f_->vsize.Add({});
  f_->fds.Add({});
  f_->max_fds.Add({});
  f_->start.Add({});
}

Exporter::~Exporter() = default;

std::string Exporter::render(const Sample& sample) {
  Families& f = *f_;
  std::set<std::pair<std::string, std::string>> seen_servers;
  std::set<std::string> seen_pools, seen_listeners;

  for (const PoolSample& pool : sample.pools) {
    seen_pools.insert(pool.name);
    auto [p, new_pool] = f.pools.try_emplace(pool.name);
    if (new_pool) {
      const Labels l{{"pool", pool.name}};
      p->second = {&f.pool_up.Add(l), &f.pool_retries.Add(l), &f.pool_exhausted.Add(l)};
    }
    sync(*p->second.retries, static_cast<double>(pool.retries));
    sync(*p->second.exhausted, static_cast<double>(pool.exhausted));
    int up = 0;
    for (std::size_t index = 0; index < pool.snapshot->servers.size(); ++index) {
      const balancer::ServerView& s = pool.snapshot->servers[index];
      const auto key = std::pair{pool.name, s.name};
      seen_servers.insert(key);
      auto it = f.servers.find(key);
      if (it != f.servers.end() && it->second.stats != s.stats.get()) {
        // Same name, another server: its counters start again.
        f.remove_server(it->second);
        f.servers.erase(it);
        it = f.servers.end();
      }
      if (it == f.servers.end()) {
        it = f.servers.emplace(key, f.add_server(pool.name, s.name, s.stats.get())).first;
      }
      const Families::Server& m = it->second;
      const balancer::ServerStats& st = *s.stats;
      const auto state = s.state();
      up += state == balancer::EffectiveState::up;
      m.up->Set(s.eligible() ? 1 : 0);
      for (std::size_t i = 0; i < kStates.size(); ++i) {
        m.state[i]->Set(static_cast<std::size_t>(state) == i ? 1 : 0);
      }
      m.weight->Set(s.weight);
      m.active->Set(static_cast<double>(st.active.load(std::memory_order_relaxed)));
      sync(*m.connections,
           static_cast<double>(st.connections_total.load(std::memory_order_relaxed)));
      for (std::size_t i = 0; i < kFailures.size(); ++i) {
        sync(*m.failures[i],
             static_cast<double>(st.connect_failures[i].load(std::memory_order_relaxed)));
      }
      sync(*m.bytes_in, static_cast<double>(st.bytes_in.load(std::memory_order_relaxed)));
      sync(*m.bytes_out, static_cast<double>(st.bytes_out.load(std::memory_order_relaxed)));
      sync(*m.connect, st.connect_duration);
      sync(*m.response, st.response_duration);
      for (std::size_t i = 0; i < kCheckResults.size(); ++i) {
        sync(*m.checks[i], static_cast<double>(st.checks[i].load(std::memory_order_relaxed)));
      }
      sync(*m.check, st.check_duration);
      sync(*m.to_up, static_cast<double>(st.went_up.load(std::memory_order_relaxed)));
      sync(*m.to_down, static_cast<double>(st.went_down.load(std::memory_order_relaxed)));
      m.health->Set(s.health == balancer::Health::up ? 1 : 0);
      const ServerControlSample control =
          index < pool.servers.size() ? pool.servers[index] : ServerControlSample{};
      m.last_change->Set(control.state_changed);
      m.certificate_expiry->Set(control.certificate_expiry);
    }
    p->second.up->Set(up);
  }
  for (auto it = f.servers.begin(); it != f.servers.end();) {
    if (seen_servers.contains(it->first)) {
      ++it;
      continue;
    }
    f.remove_server(it->second);
    it = f.servers.erase(it);
  }
  for (auto it = f.pools.begin(); it != f.pools.end();) {
    if (seen_pools.contains(it->first)) {
      ++it;
      continue;
    }
    f.pool_up.Remove(it->second.up);
    f.pool_retries.Remove(it->second.retries);
    f.pool_exhausted.Remove(it->second.exhausted);
    it = f.pools.erase(it);
  }

  for (const ListenerSample& l : sample.listeners) {
    seen_listeners.insert(l.name);
    auto [it, added] = f.listeners.try_emplace(l.name);
    if (added) {
      const Labels labels{{"listener", l.name}};
      it->second.connections = &f.listener_connections.Add(labels);
      it->second.active = &f.listener_active.Add(labels);
      it->second.max = &f.listener_max.Add(labels);
      for (std::size_t i = 0; i < kRejects.size(); ++i) {
        Labels more = labels;
        more["reason"] = kRejects[i];
        it->second.rejected[i] = &f.listener_rejected.Add(more);
      }
      if (l.dns) {
        for (std::size_t q = 0; q < kDnsQtypes.size(); ++q) {
          for (std::size_t r = 0; r < kDnsRcodes.size(); ++r) {
            Labels more = labels;
            more["qtype"] = std::string(kDnsQtypes[q]);
            more["rcode"] = std::string(kDnsRcodes[r]);
            it->second.queries[q][r] = &f.dns_queries.Add(more);
          }
        }
        it->second.all_down = &f.dns_all_down.Add(labels);
        it->second.dropped = &f.dns_dropped.Add(labels);
        it->second.truncated = &f.dns_truncated.Add(labels);
      }
    }
    if (l.dns && it->second.all_down) {
      for (std::size_t q = 0; q < kDnsQtypes.size(); ++q) {
        for (std::size_t r = 0; r < kDnsRcodes.size(); ++r) {
          sync(*it->second.queries[q][r], static_cast<double>(l.dns_queries[q][r]));
        }
      }
      sync(*it->second.all_down, static_cast<double>(l.dns_all_down));
      sync(*it->second.dropped, static_cast<double>(l.dns_dropped));
      sync(*it->second.truncated, static_cast<double>(l.dns_truncated));
    }
    if (l.tls && !it->second.tls_ok) {
      it->second.tls_ok = &f.tls_handshakes.Add({{"listener", l.name}, {"result", "ok"}});
      it->second.tls_failed = &f.tls_handshakes.Add({{"listener", l.name}, {"result", "failed"}});
    }
    if (it->second.tls_ok) {
      sync(*it->second.tls_ok, static_cast<double>(l.tls_ok));
      sync(*it->second.tls_failed, static_cast<double>(l.tls_failed));
    }
    if (l.http_listener && !it->second.h2_limits[0]) {
      for (std::size_t i = 0; i < kHttp2Limits.size(); ++i) {
        it->second.h2_limits[i] =
            &f.http2_limits.Add({{"listener", l.name}, {"limit", std::string(kHttp2Limits[i])}});
      }
    }
    if (it->second.h2_limits[0]) {
      for (std::size_t i = 0; i < kHttp2Limits.size(); ++i) {
        sync(*it->second.h2_limits[i], static_cast<double>(l.h2_limits[i]));
      }
    }
    if (l.sip && !it->second.sip_calls[0]) {
      for (std::size_t i = 0; i < kSipCallResults.size(); ++i) {
        it->second.sip_calls[i] =
            &f.sip_calls.Add({{"listener", l.name}, {"result", std::string(kSipCallResults[i])}});
      }
      for (std::size_t i = 0; i < kSipDropReasons.size(); ++i) {
        it->second.sip_dropped[i] =
            &f.sip_dropped.Add({{"listener", l.name}, {"reason", std::string(kSipDropReasons[i])}});
      }
    }
    if (it->second.sip_calls[0]) {
      for (std::size_t i = 0; i < kSipCallResults.size(); ++i) {
        sync(*it->second.sip_calls[i], static_cast<double>(l.sip_calls[i]));
      }
      for (std::size_t i = 0; i < kSipDropReasons.size(); ++i) {
        sync(*it->second.sip_dropped[i], static_cast<double>(l.sip_dropped[i]));
      }
    }
    if (l.smtp_inspect && !it->second.smtp_transactions[0]) {
      for (std::size_t i = 0; i < kSmtpResults.size(); ++i) {
        it->second.smtp_transactions[i] = &f.smtp_transactions.Add(
            {{"listener", l.name}, {"result", std::string(kSmtpResults[i])}});
      }
    }
    if (it->second.smtp_transactions[0]) {
      for (std::size_t i = 0; i < kSmtpResults.size(); ++i) {
        sync(*it->second.smtp_transactions[i], static_cast<double>(l.smtp_transactions[i]));
      }
    }
    for (const HttpSample& h : l.http) {
      auto [hit, new_pool] = it->second.http.try_emplace(h.pool);
      if (new_pool) {
        static constexpr std::array<const char*, 5> kClasses = {"1xx", "2xx", "3xx", "4xx", "5xx"};
        for (std::size_t c = 0; c < kClasses.size(); ++c) {
          hit->second.by_class[c] =
              &f.http_requests.Add({{"listener", l.name}, {"pool", h.pool}, {"code", kClasses[c]}});
        }
        hit->second.duration =
            &f.http_duration.Add({{"listener", l.name}, {"pool", h.pool}}, bounds());
      }
      for (std::size_t c = 0; c < h.by_class.size(); ++c) {
        sync(*hit->second.by_class[c], static_cast<double>(h.by_class[c]));
      }
      if (h.duration) sync(*hit->second.duration, *h.duration);
    }
    sync(*it->second.connections, static_cast<double>(l.connections_total));
    it->second.active->Set(static_cast<double>(l.active));
    it->second.max->Set(static_cast<double>(l.max_connections));
    for (std::size_t i = 0; i < kRejects.size(); ++i) {
      sync(*it->second.rejected[i], static_cast<double>(l.rejected[i]));
    }
  }
  for (auto it = f.listeners.begin(); it != f.listeners.end();) {
    if (seen_listeners.contains(it->first)) {
      ++it;
      continue;
    }
    f.listener_connections.Remove(it->second.connections);
    f.listener_active.Remove(it->second.active);
    f.listener_max.Remove(it->second.max);
    for (Counter* c : it->second.rejected) f.listener_rejected.Remove(c);
    if (it->second.all_down) {
      for (auto& row : it->second.queries) {
        for (Counter* c : row) f.dns_queries.Remove(c);
      }
      f.dns_all_down.Remove(it->second.all_down);
      f.dns_dropped.Remove(it->second.dropped);
      f.dns_truncated.Remove(it->second.truncated);
    }
    for (auto& [pool, h] : it->second.http) {
      for (Counter* c : h.by_class) f.http_requests.Remove(c);
      f.http_duration.Remove(h.duration);
    }
    if (it->second.tls_ok) remove_all(f.tls_handshakes, {it->second.tls_ok, it->second.tls_failed});
    if (it->second.h2_limits[0]) {
      for (Counter* c : it->second.h2_limits) f.http2_limits.Remove(c);
    }
    if (it->second.sip_calls[0]) {
      for (Counter* c : it->second.sip_calls) f.sip_calls.Remove(c);
      for (Counter* c : it->second.sip_dropped) f.sip_dropped.Remove(c);
    }
    if (it->second.smtp_transactions[0]) {
      for (Counter* c : it->second.smtp_transactions) f.smtp_transactions.Remove(c);
    }
    it = f.listeners.erase(it);
  }

  for (std::size_t i = 0; i < kResolverResults.size(); ++i) {
    sync(*f.resolver_series[i], static_cast<double>(sample.resolver[i]));
  }
  sync(*f.reload_ok, static_cast<double>(sample.reloads_success));
  sync(*f.reload_failed, static_cast<double>(sample.reloads_failure));
  f.reload_at->Set(sample.last_reload_success);

  const ProcessStats ps = read_process_stats();
  sync(f.cpu.Add({}), ps.cpu_seconds);
  f.rss.Add({}).Set(ps.resident_bytes);
  f.vsize.Add({}).Set(ps.virtual_bytes);
  f.fds.Add({}).Set(ps.open_fds);
  f.max_fds.Add({}).Set(ps.max_fds);
  f.start.Add({}).Set(ps.start_time_seconds);

  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, f.registry.Collect());
  return out.str();
}

}  // namespace sb::metrics
