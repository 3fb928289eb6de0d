#include "proxy/runtime/runtime.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <sys/resource.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <optional>
#include <thread>

#include "health/health_checker.h"
#include "metrics/exporter.h"
#include "proxy/net/proxy_protocol.h"
#include "proxy/runtime/admin_server.h"
#include "proxy/runtime/discovery.h"
#include "proxy/runtime/listener.h"
#include "proxy/runtime/logging.h"
#include "proxy/runtime/pool_control.h"
#include "proxy/runtime/pool_registry.h"
#include "proxy/runtime/transparent_source.h"
#include "proxy/runtime/worker.h"

namespace sb::runtime {
namespace {

using Clock = std::chrono::steady_clock;
// How much nicer (nice(2)) the control-plane thread is than the workers.
constexpr int kControlNice = 5;

unsigned worker_count(const config::Config& cfg) {
  if (cfg.workers > 0) return static_cast<unsigned>(cfg.workers);
  return std::max(1u, std::thread::hardware_concurrency());
}

// The L4 relay's way of moving bytes; automatic unless SWITCHBOARD_RELAY=
// copy|splice asks otherwise, for measurements (docs/architecture.md).
RelayMode relay_mode() {
  const char* env = std::getenv("SWITCHBOARD_RELAY");
  if (env && std::string_view(env) == "splice") return RelayMode::splice;
  if (env && std::string_view(env) == "copy") return RelayMode::copy;
  return RelayMode::automatic;
}

std::string_view to_string(RelayMode mode) {
  switch (mode) {
    case RelayMode::automatic:
      return "auto";
    case RelayMode::copy:
      return "copy";
    case RelayMode::splice:
      return "splice";
  }
  return "?";
}

class ControlPlane {
 public:
  ControlPlane(asio::io_context& io, std::vector<std::unique_ptr<Worker>>& workers,
               std::vector<std::unique_ptr<ListenerRuntime>>& listeners, AdminServer& admin,
               std::atomic<bool>& shutting_down, config::Duration grace)
      : io_(io),
        workers_(workers),
        listeners_(listeners),
        admin_(admin),
        shutting_down_(shutting_down),
        grace_(grace),
        signals_(io, SIGINT, SIGTERM, SIGHUP) {}

  void start() { asio::co_spawn(io_, handle_signals(), asio::detached); }
  // Also run at the stop (health checks end there).
  void on_stop(std::function<void()> f) { on_stop_ = std::move(f); }

 private:
  awaitable<void> handle_signals() {
    for (;;) {
      auto [ec, sig] = co_await signals_.async_wait(use_nothrow);
      if (ec) co_return;
      if (sig == SIGHUP) {
        spdlog::warn(
            "SIGHUP: configuration reload is not implemented yet (issue 5); "
            "the running configuration stays");
        continue;
      }
      if (shutting_down_.exchange(true)) {
        spdlog::warn("second stop signal: closing every connection now");
        stop_everything();
        co_return;
      }
      asio::co_spawn(io_, drain(), asio::detached);
    }
  }

  // Graceful stop: refuse new connections, let the open ones finish within
  // the grace period, then stop.
  awaitable<void> drain() {
    spdlog::info("stopping: no new connections; waiting up to {}ms for {} open ones",
                 grace_.count(), active());
    for (auto& w : workers_) w->stop_accepting();
    const auto deadline = Clock::now() + grace_;
    asio::steady_timer tick(io_);
    while (active() > 0 && Clock::now() < deadline) {
      tick.expires_after(std::chrono::milliseconds(50));
      co_await tick.async_wait(use_nothrow);
    }
    if (const auto left = active(); left > 0) {
      spdlog::warn("grace period over: closing {} connections", left);
    }
    stop_everything();
  }

  std::int64_t active() const {
    std::int64_t n = 0;
    for (const auto& l : listeners_) n += l->stats.active.load(std::memory_order_relaxed);
    return n;
  }

  void stop_everything() {
    admin_.stop();
    if (on_stop_) on_stop_();
    signals_.cancel();
    for (auto& w : workers_) w->stop();
    io_.stop();
  }

  asio::io_context& io_;
  std::vector<std::unique_ptr<Worker>>& workers_;
  std::vector<std::unique_ptr<ListenerRuntime>>& listeners_;
  AdminServer& admin_;
  std::atomic<bool>& shutting_down_;
  config::Duration grace_;
  asio::signal_set signals_;
  std::function<void()> on_stop_;
};

// sip-options checks go over the first transport of the SIP listener that
// uses the pool (UDP, SIP's default, when none does).
health::SipTransport sip_check_transport(const config::Config& cfg, const std::string& pool) {
  for (const auto& l : cfg.listeners) {
    if (l.protocol == config::Protocol::sip && l.pool == pool && l.sip &&
        !l.sip->transports.empty()) {
      return l.sip->transports.front() == config::SipTransport::tcp ? health::SipTransport::tcp
                                                                    : health::SipTransport::udp;
    }
  }
  return health::SipTransport::udp;
}

// The health check of one server, or nothing when the pool is not checked.
std::optional<health::CheckSpec> check_spec(const config::Config& cfg,
                                            const config::PoolConfig& pool,
                                            const balancer::ServerView& server) {
  const config::HealthConfig& h = pool.health;
  health::CheckSpec spec;
  switch (h.check) {
    case config::CheckType::none:
      return std::nullopt;
    case config::CheckType::tcp:
      spec.type = health::CheckType::tcp;
      break;
    case config::CheckType::smtp:
      spec.type = health::CheckType::smtp;
      break;
    case config::CheckType::http:
      spec.type = health::CheckType::http;
      break;
    case config::CheckType::https:
      spec.type = health::CheckType::https;
      break;
    case config::CheckType::sip_options:
      spec.type = health::CheckType::sip_options;
      spec.sip_transport = sip_check_transport(cfg, pool.name);
      break;
  }
  spec.interval = h.interval;
  spec.timeout = h.timeout;
  spec.rise = h.rise;
  spec.fall = h.fall;
  spec.ip = server.ip;
  spec.ipv6 = server.ipv6;
  spec.port = h.port != 0 ? h.port : server.port;
  spec.helo = h.helo;
  spec.starttls = h.starttls;
  spec.path = h.path;
  spec.host = h.host;
  spec.expect_status_low = h.expect_status.low;
  spec.expect_status_high = h.expect_status.high;
  spec.expect_body = h.expect_body;
  // Servers that require PROXY headers must accept the checks too: v2 LOCAL
  // or v1 UNKNOWN, which say "this connection is the balancer's own".
  if (pool.proxy_protocol != config::ProxyProtocol::none) {
    std::array<char, net::kMaxV2> header{};
    net::ProxyAddresses local;
    local.local = true;
    const std::size_t n = pool.proxy_protocol == config::ProxyProtocol::v1
                              ? net::encode_v1(local, header)
                              : net::encode_v2(local, header);
    spec.proxy_header.assign(header.data(), n);
  }
  return spec;
}

metrics::Sample metrics_sample(const PoolRegistry& pools,
                               const std::vector<std::unique_ptr<ListenerRuntime>>& listeners,
                               const Discovery& discovery, double loaded_at) {
  metrics::Sample s;
  for (std::size_t p = 0; p < pools.size(); ++p) {
    const PoolRuntime& pool = pools.at(p);
    s.pools.push_back({pool.config.name, pool.snapshot,
                       pool.stats.retries.load(std::memory_order_relaxed),
                       pool.stats.exhausted.load(std::memory_order_relaxed)});
  }
  for (const auto& l : listeners) {
    metrics::ListenerSample ls;
    ls.name = l->config.name;
    ls.connections_total = l->stats.connections_total.load(std::memory_order_relaxed);
    ls.active = l->stats.active.load(std::memory_order_relaxed);
    for (std::size_t i = 0; i < kRejectReasons; ++i) {
      ls.rejected[i] = l->stats.rejected[i].load(std::memory_order_relaxed);
    }
    s.listeners.push_back(std::move(ls));
  }
  if (discovery.needed()) {
    const auto& r = discovery.stats();
    s.resolver = {r.ok.load(std::memory_order_relaxed), r.nxdomain.load(std::memory_order_relaxed),
                  r.error.load(std::memory_order_relaxed)};
  }
  // The start is the first successful load; reloads arrive with issue 5.
  s.reloads_success = 0;
  s.last_reload_success = loaded_at;
  return s;
}

}  // namespace

int run(const config::Config& cfg, const std::string& file) {
  configure_logging(cfg.log);
  // splice(2) into a socket whose peer has gone raises SIGPIPE (only send()
  // takes MSG_NOSIGNAL); the error code is all we want.
  std::signal(SIGPIPE, SIG_IGN);
  try {
    // source: client needs CAP_NET_ADMIN: say so at start, not per connection.
    for (const auto& pool : cfg.pools) {
      if (pool.source != config::SourceMode::client) continue;
      if (const auto why = transparent_unavailable()) {
        throw std::runtime_error(fmt::format(
            "pool \"{}\": source: client needs IP_TRANSPARENT (CAP_NET_ADMIN): {}; run as "
            "root or grant the capability (setcap cap_net_admin+ep, or AmbientCapabilities= "
            "in the systemd unit), see docs/transparent-source.md",
            pool.name, *why));
      }
    }
    PoolRegistry pools(cfg);
    const unsigned n = worker_count(cfg);
    const RelayMode mode = relay_mode();
    // Declared before the workers so that it outlives them: destroying a
    // worker's io_context destroys its sessions, which release their slots
    // in the listener's admission.
    std::vector<std::unique_ptr<ListenerRuntime>> listeners;
    std::vector<std::unique_ptr<Worker>> workers;
    // SWITCHBOARD_METRICS=off: for measuring what the per-connection metric
    // updates cost (docs/architecture.md); never for production.
    const char* metrics_env = std::getenv("SWITCHBOARD_METRICS");
    const bool metrics_counting = !(metrics_env && std::string_view(metrics_env) == "off");
    for (unsigned i = 0; i < n; ++i) {
      workers.push_back(std::make_unique<Worker>(i, pools, mode));
      workers.back()->set_metrics_counting(metrics_counting);
    }

    for (const auto& lc : cfg.listeners) {
      listeners.push_back(std::make_unique<ListenerRuntime>(lc, pools.index_of(lc.pool)));
      open_listener(*listeners.back(), workers);
    }

    asio::io_context control(1);
    std::atomic<bool> shutting_down{false};
    PoolControl pool_control(control.get_executor(), pools, workers);
    // Active checks: one loop per server of every pool that is checked, the
    // server's id as the target; servers that DNS adds or removes later
    // start or stop theirs through the membership hooks.
    health::HealthChecker checker(
        control.get_executor(),
        [&](std::size_t id, const health::ProbeResult& r, health::Transition t) {
          pool_control.apply_check(id, r, t);
        },
        0x5eed);
    const auto start_check = [&](std::size_t p, const balancer::ServerView& server) {
      if (auto spec = check_spec(cfg, pools.at(p).config, server)) {
        checker.add(server.id, std::move(*spec));
      }
    };
    for (std::size_t p = 0; p < pools.size(); ++p) {
      for (const auto& server : pools.at(p).snapshot->servers) start_check(p, server);
    }
    pool_control.set_membership_hooks({start_check, [&](std::uint64_t id) { checker.remove(id); }});
    // Passive health: a worker reports a server that failed real connects
    // too often; the control plane ejects it (decided once, here).
    for (auto& w : workers) {
      w->set_outlier_hook([&](std::size_t p, std::uint64_t id) {
        asio::post(control, [&, p, id] {
          const auto& outlier = pools.at(p).config.outlier;
          const std::string reason =
              fmt::format("ejected after {} failed connects in a row (outlier) for {}ms",
                          outlier.consecutive_failures, outlier.ejection_time.count());
          if (!checker.eject(id, std::chrono::steady_clock::now() + outlier.ejection_time,
                             reason)) {
            pool_control.eject_unchecked(p, id, outlier.ejection_time, reason);
          }
        });
      });
    }
    // Servers by DNS name: the first round is awaited (bounded by the
    // resolver's own timeouts) so that such pools are not empty at start.
    Discovery discovery(control.get_executor(), cfg.resolver, pools, pool_control);
    if (discovery.needed()) {
      discovery.start();
      const auto limit =
          Clock::now() + 3 * cfg.resolver.timeout * std::max(1, cfg.resolver.attempts);
      while (!discovery.first_round_done() && Clock::now() < limit) {
        control.run_one_for(std::chrono::milliseconds(50));
      }
      if (!discovery.first_round_done()) {
        spdlog::warn("DNS discovery: first lookups still running; serving what is known");
      }
    }
    AdminServer admin(control, cfg.admin, shutting_down, pool_control);
    // Metrics: read from the live counters at each scrape (control thread).
    metrics::Exporter exporter(SWITCHBOARD_VERSION);
    const double loaded_at =
        std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    admin.set_metrics(
        [&] { return exporter.render(metrics_sample(pools, listeners, discovery, loaded_at)); });
    ControlPlane plane(control, workers, listeners, admin, shutting_down, cfg.shutdown_grace);
    plane.on_stop([&checker, &discovery] {
      checker.stop();
      discovery.stop();
    });
    plane.start();
    admin.start();
    for (auto& w : workers) w->start();
    // The control plane (health checks, DNS, admin) yields to the workers
    // when they share a core: traffic first. Its work is small per second
    // but bursty, and at equal priority it delays connections in its bursts
    // (bench: 1000 checked servers, docs/architecture.md). Set after the
    // workers start, which keep the default priority.
    // Relative to the process's own nice value (getpriority may return -1 as
    // a valid value: errno tells).
    errno = 0;
    const int nice_now = ::getpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()));
    const int control_nice = std::min(19, (errno == 0 ? nice_now : 0) + kControlNice);
    if (::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), control_nice) != 0) {
      spdlog::debug("control plane: setpriority: {}", std::strerror(errno));
    }
    spdlog::info("switchboard {} running {} with {} workers, relay {}", SWITCHBOARD_VERSION, file,
                 n, to_string(mode));
    control.run();
    for (auto& w : workers) w->join();
    spdlog::info("stopped");
    return 0;
  } catch (const ListenError& e) {
    spdlog::error("{}", e.what());
    return 3;
  } catch (const std::exception& e) {
    spdlog::error("cannot start: {}", e.what());
    return 3;
  }
}

}  // namespace sb::runtime
