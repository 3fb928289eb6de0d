#include "proxy/control/runtime.h"

#include <sched.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <boost/json.hpp>

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
#include "proxy/admin/admin_server.h"
#include "proxy/config/config_loader.h"
#include "proxy/control/check_config.h"
#include "proxy/control/config_changes.h"
#include "proxy/control/descriptor_limit.h"
#include "proxy/control/discovery.h"
#include "proxy/control/pool_control.h"
#include "proxy/control/pool_registry.h"
#include "proxy/control/service_notify.h"
#include "proxy/control/tls_files.h"
#include "proxy/control/unsupported.h"
#include "proxy/front/listener_set.h"
#include "proxy/logging.h"
#include "proxy/upstream/transparent_source.h"
#include "proxy/worker/worker.h"

namespace sb::runtime {
namespace {

using Clock = std::chrono::steady_clock;
// How much nicer (nice(2)) the control-plane thread is than the workers.
constexpr int kControlNice = 5;
// A worker whose loop has not turned for this long is stuck: /healthz says
// so (its heartbeat comes every Worker::kHeartbeat).
constexpr std::chrono::seconds kWorkerStuckAfter{10};

unsigned worker_count(const config::Config& cfg) {
  if (cfg.workers > 0) return static_cast<unsigned>(cfg.workers);
  return std::max(1u, std::thread::hardware_concurrency());
}

// A pool whose servers are reached with `source: client` needs
// IP_TRANSPARENT: say so at start (and at reload), not per connection.
std::optional<std::string> transparent_problem(const config::Config& cfg) {
  for (const auto& pool : cfg.pools) {
    if (pool.source != config::SourceMode::client) continue;
    if (const auto why = transparent_unavailable()) {
      return fmt::format(
          "pool \"{}\": source: client needs IP_TRANSPARENT (CAP_NET_ADMIN): {}; run as "
          "root or grant the capability (setcap cap_net_admin+ep, or AmbientCapabilities= "
          "in the systemd unit), see docs/transparent-source.md",
          pool.name, *why);
    }
  }
  return std::nullopt;
}

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

boost::json::array json_names(const std::vector<std::string>& names) {
  boost::json::array out;
  for (const auto& n : names) out.emplace_back(n);
  return out;
}

// Everything that runs for one process: workers, pools, listeners, health
// checks, DNS discovery, the admin server, and the control thread's own
// work (signals, graceful stop, reload). Control thread only, except where
// a member says otherwise.
class Runtime {
 public:
  Runtime(std::shared_ptr<const config::Config> cfg, std::string file)
      : cfg_(std::move(cfg)),
        file_(std::move(file)),
        pools_(*cfg_),
        listeners_(workers_),
        pool_control_(control_.get_executor(), pools_, workers_),
        checker_(
            control_.get_executor(),
            [this](std::size_t id, const health::ProbeResult& r, health::Transition t) {
              pool_control_.apply_check(id, r, t);
            },
            0x5eed),
        discovery_(control_.get_executor(), cfg_->resolver, pools_, pool_control_),
        signals_(control_, SIGINT, SIGTERM, SIGHUP) {}

  int run();

 private:
  void start_workers_and_listeners();
  WorkerGeneration generation_for(std::size_t worker, ListenerSet::Plan& plan);
  void start_check(std::size_t pool, const balancer::ServerView& server);
  // After a reload: every server runs the check its pool's settings ask for.
  void reconcile_checks();
  void report_outlier(const PoolRuntime& pool, std::uint64_t id);
  // A reload, told to systemd around it (RELOADING=1 ... READY=1).
  ReloadOutcome reload(std::string_view why);
  ReloadOutcome apply_reload(std::string_view why);
  // What `systemctl status` shows while running.
  std::string running_status() const;
  std::size_t server_count() const;  // in every pool
  metrics::Sample metrics_sample() const;
  // GET /healthz: empty while every worker runs its loop, else what is wrong.
  std::string worker_problem() const;
  // GET /status "listeners" (README.md "Admin API").
  boost::json::value listeners_json() const;

  awaitable<void> handle_signals();
  awaitable<void> report_every_second();
  awaitable<void> drain();
  void stop_everything();

  std::shared_ptr<const config::Config> cfg_;
  std::string file_;
  asio::io_context control_{1};
  std::atomic<bool> shutting_down_{false};
  int exit_code_ = 0;  // 3 after a worker's repeated faults
  // Declared before the workers so that it outlives them: destroying a
  // worker's io_context destroys its sessions, which hold pools.
  PoolRegistry pools_;
  std::vector<std::unique_ptr<Worker>> workers_;
  ListenerSet listeners_;
  PoolControl pool_control_;
  health::HealthChecker checker_;
  Discovery discovery_;
  std::unique_ptr<AdminServer> admin_;
  metrics::Exporter exporter_{SWITCHBOARD_VERSION};
  asio::signal_set signals_;
  std::uint64_t reloads_success_ = 0;
  std::uint64_t reloads_failure_ = 0;
  double last_reload_success_ = unix_now();  // the start counts as one
};

WorkerGeneration Runtime::generation_for(std::size_t worker, ListenerSet::Plan& plan) {
  WorkerGeneration gen;
  for (std::size_t p = 0; p < pools_.size(); ++p) {
    gen.pools.push_back({pools_.shared(p), pools_.at(p).snapshot});
  }
  gen.addresses = std::move(plan.per_worker[worker]);
  return gen;
}

void Runtime::start_check(std::size_t p, const balancer::ServerView& server) {
  if (auto spec = check_spec(*cfg_, pools_.at(p).config, server)) {
    checker_.add(server.id, std::move(*spec));
  }
}

void Runtime::reconcile_checks() {
  for (std::size_t p = 0; p < pools_.size(); ++p) {
    for (const auto& server : pools_.at(p).snapshot->servers) {
      const auto want = check_spec(*cfg_, pools_.at(p).config, server);
      const health::CheckSpec* have = checker_.spec_of(server.id);
      if (!want && !have) continue;
      if (want && have && *want == *have) continue;
      if (have) checker_.remove(server.id);
      if (want) checker_.add(server.id, *want, server.health == balancer::Health::up);
    }
  }
}

void Runtime::report_outlier(const PoolRuntime& pool, std::uint64_t id) {
  // Worker thread: copy what the control thread needs, then hand it over.
  const config::OutlierConfig outlier = pool.config.outlier;
  asio::post(control_, [this, outlier, id] {
    // Checked servers come back when `rise` checks in a row pass after the
    // ejection; unchecked ones after ejection-time.
    if (!checker_.eject(
            id, fmt::format("ejected after {} failed connects in a row (outlier); back after "
                            "passing checks",
                            outlier.consecutive_failures))) {
      pool_control_.eject_unchecked(
          id, outlier.ejection_time,
          fmt::format("ejected after {} failed connects in a row (outlier) for {}ms",
                      outlier.consecutive_failures, outlier.ejection_time.count()));
    }
  });
}

metrics::Sample Runtime::metrics_sample() const {
  metrics::Sample s;
  for (std::size_t p = 0; p < pools_.size(); ++p) {
    const PoolRuntime& pool = pools_.at(p);
    metrics::PoolSample& ps = s.pools.emplace_back(
        metrics::PoolSample{pool.config.name,
                            pool.snapshot,
                            pool.stats->retries.load(std::memory_order_relaxed),
                            pool.stats->exhausted.load(std::memory_order_relaxed),
                            {}});
    for (const auto& server : pool.snapshot->servers) {
      const auto t = pool_control_.times(server.id);
      ps.servers.push_back({t.state_changed, t.certificate_expiry});
    }
  }
  for (const auto& l : listeners_.current()) {
    metrics::ListenerSample ls;
    ls.name = l->config.name;
    ls.connections_total = l->stats->connections_total.load(std::memory_order_relaxed);
    ls.active = l->stats->active.load(std::memory_order_relaxed);
    ls.max_connections = l->config.max_connections;
    for (std::size_t i = 0; i < kRejectReasons; ++i) {
      ls.rejected[i] = l->stats->rejected[i].load(std::memory_order_relaxed);
    }
    if (l->config.protocol == config::Protocol::dns) {
      const DnsCounters& d = l->stats->dns;
      ls.dns = true;
      for (std::size_t q = 0; q < ls.dns_queries.size(); ++q) {
        for (std::size_t r = 0; r < ls.dns_queries[q].size(); ++r) {
          ls.dns_queries[q][r] = d.queries[q][r].load(std::memory_order_relaxed);
        }
      }
      ls.dns_all_down = d.all_down.load(std::memory_order_relaxed);
      ls.dns_dropped = d.dropped.load(std::memory_order_relaxed);
      ls.dns_truncated = d.truncated.load(std::memory_order_relaxed);
    }
    if (l->config.protocol == config::Protocol::sip) {
      ls.sip = true;
      for (std::size_t i = 0; i < ls.sip_calls.size(); ++i) {
        ls.sip_calls[i] = l->stats->sip.calls[i].load(std::memory_order_relaxed);
      }
      for (std::size_t i = 0; i < ls.sip_dropped.size(); ++i) {
        ls.sip_dropped[i] = l->stats->sip.dropped[i].load(std::memory_order_relaxed);
      }
    }
    if (l->config.protocol == config::Protocol::smtp && l->config.smtp &&
        l->config.smtp->mode == config::SmtpMode::inspect) {
      ls.smtp_inspect = true;
      for (std::size_t i = 0; i < ls.smtp_transactions.size(); ++i) {
        ls.smtp_transactions[i] = l->stats->smtp.transactions[i].load(std::memory_order_relaxed);
      }
    }
    if (l->config.protocol == config::Protocol::http) {
      ls.http_listener = true;
      for (std::size_t i = 0; i < ls.h2_limits.size(); ++i) {
        ls.h2_limits[i] = l->stats->h2_limits[i].load(std::memory_order_relaxed);
      }
      for (auto& [pool, counters] : l->stats->http.all()) {
        metrics::HttpSample h;
        h.pool = pool;
        for (std::size_t c = 0; c < h.by_class.size(); ++c) {
          h.by_class[c] = counters->by_class[c].load(std::memory_order_relaxed);
        }
        h.duration =
            std::shared_ptr<const balancer::DurationHistogram>(counters, &counters->duration);
        ls.http.push_back(std::move(h));
      }
    }
    if (l->config.tls) {
      ls.tls = true;
      ls.tls_ok = l->stats->tls.ok.load(std::memory_order_relaxed);
      ls.tls_failed = l->stats->tls.failed.load(std::memory_order_relaxed);
    }
    s.listeners.push_back(std::move(ls));
  }
  if (discovery_.needed()) {
    const auto& r = discovery_.stats();
    s.resolver = {r.ok.load(std::memory_order_relaxed), r.nxdomain.load(std::memory_order_relaxed),
                  r.error.load(std::memory_order_relaxed)};
  }
  s.reloads_success = reloads_success_;
  s.reloads_failure = reloads_failure_;
  s.last_reload_success = last_reload_success_;
  return s;
}

ReloadOutcome Runtime::reload(std::string_view why) {
  if (shutting_down_) return apply_reload(why);  // refused; systemd knows we stop
  notify_reloading();
  ReloadOutcome out = apply_reload(why);
  if (out.errors.empty()) {
    notify_ready(running_status());
  } else {
    // systemd keeps the unit active (the old configuration runs); the
    // status line says why the new one was not taken.
    notify_ready(fmt::format("reload ({}) refused: {}; running the previous configuration", why,
                             out.errors.front()));
  }
  return out;
}

std::size_t Runtime::server_count() const {
  std::size_t servers = 0;
  for (std::size_t p = 0; p < pools_.size(); ++p) servers += pools_.at(p).snapshot->servers.size();
  return servers;
}

std::string Runtime::running_status() const {
  return fmt::format("running {}: {} listeners, {} pools, {} servers, {} workers", file_,
                     listeners_.current().size(), pools_.size(), server_count(), workers_.size());
}

ReloadOutcome Runtime::apply_reload(std::string_view why) {
  ReloadOutcome out;
  const auto refuse = [&](std::vector<std::string> errors) {
    ++reloads_failure_;
    spdlog::error("reload ({}) refused; the running configuration stays:", why);
    for (const auto& e : errors) spdlog::error("  {}", e);
    out.errors = std::move(errors);
    return out;
  };
  if (shutting_down_) return refuse({"switchboard is stopping"});
  auto loaded = config::load_config_file(file_);
  std::vector<std::string> errors;
  for (const auto& e : loaded.errors) errors.push_back(e.to_string());
  if (!errors.empty()) return refuse(std::move(errors));
  for (const auto& e : find_unsupported(*loaded.config, file_)) errors.push_back(e.to_string());
  for (const auto& e : find_tls_problems(*loaded.config, file_)) errors.push_back(e.to_string());
  if (!errors.empty()) return refuse(std::move(errors));
  if (auto problem = transparent_problem(*loaded.config)) return refuse({std::move(*problem)});
  // The admin token is read again: rotating it needs no restart.
  std::string token;
  try {
    token = AdminServer::read_token(loaded.config->admin.token_file);
  } catch (const ListenError& e) {
    return refuse({e.what()});
  }
  auto next = std::make_shared<const config::Config>(std::move(*loaded.config));

  // 1. Build the new pools and listeners and bind new addresses; nothing
  //    runs on them yet, and a failure leaves everything as it was.
  auto pools = pools_.prepare(*next);
  ListenerSet::Plan plan;
  try {
    plan = listeners_.prepare(*next, pools);
  } catch (const ListenError& e) {
    return refuse({e.what()});
  }

  // 2. Commit. The pools get their servers (those that stay keep id,
  //    health and connections), then every worker switches in one step.
  const ConfigChanges changes = config_changes(*cfg_, *next);
  for (const auto& n : changes.need_restart) spdlog::warn("reload: {}", n);
  cfg_ = next;
  pools_.commit(std::move(pools));
  pool_control_.hold_publication(true);
  pool_control_.rebuild();
  for (std::size_t p = 0; p < pools_.size(); ++p) {
    pool_control_.set_members(p, discovery_.members_now(pools_.at(p).config), "reload");
  }
  for (const auto& c : changes.admin_changes) {
    pool_control_.set_admin_state(c.pool, c.server, to_admin(c.state));
  }
  pool_control_.hold_publication(false);
  reconcile_checks();
  listeners_.commit(plan);
  for (std::size_t w = 0; w < workers_.size(); ++w) {
    workers_[w]->post_install(generation_for(w, plan));
  }
  discovery_.restart(cfg_->resolver);
  admin_->set_token(std::move(token));

  ++reloads_success_;
  last_reload_success_ = unix_now();
  const std::size_t servers = server_count();
  spdlog::info(
      "reload ({}): {} pools ({} new, {} removed), {} listeners ({} new, {} removed), "
      "{} servers",
      why, pools_.size(), changes.pools_added.size(), changes.pools_removed.size(),
      listeners_.current().size(), changes.listeners_added.size(), changes.listeners_removed.size(),
      servers);
  out.ok = true;
  out.summary = boost::json::object{{"result", "reloaded"},
                                    {"file", file_},
                                    {"pools", pools_.size()},
                                    {"listeners", listeners_.current().size()},
                                    {"servers", servers},
                                    {"pools_added", json_names(changes.pools_added)},
                                    {"pools_removed", json_names(changes.pools_removed)},
                                    {"listeners_added", json_names(changes.listeners_added)},
                                    {"listeners_removed", json_names(changes.listeners_removed)},
                                    {"restart_needed_for", json_names(changes.need_restart)}};
  return out;
}

awaitable<void> Runtime::handle_signals() {
  for (;;) {
    auto [ec, sig] = co_await signals_.async_wait(use_nothrow);
    if (ec) co_return;
    if (sig == SIGHUP) {
      reload("SIGHUP");
      continue;
    }
    if (shutting_down_.exchange(true)) {
      spdlog::warn("second stop signal: closing every connection now");
      stop_everything();
      co_return;
    }
    asio::co_spawn(control_, drain(), asio::detached);
  }
}

// What is logged as a summary rather than line by line (docs/configuration.md,
// `log`): the connections each listener refused, and log lines dropped.
awaitable<void> Runtime::report_every_second() {
  asio::steady_timer tick(control_);
  for (;;) {
    tick.expires_after(std::chrono::seconds(1));
    if (auto [ec] = co_await tick.async_wait(use_nothrow); ec) co_return;
    for (const auto& l : listeners_.current()) l->front.refusals().report();
    report_dropped_log_lines();
  }
}

// Graceful stop: refuse new connections, let the open ones finish within
// the grace period, then stop.
awaitable<void> Runtime::drain() {
  const auto grace = cfg_->shutdown_grace;
  spdlog::info("stopping: no new connections; waiting up to {}ms for {} open ones", grace.count(),
               listeners_.active());
  notify_stopping(fmt::format("stopping: waiting up to {}ms for {} open connections", grace.count(),
                              listeners_.active()));
  for (auto& w : workers_) w->stop_accepting();
  const auto deadline = Clock::now() + grace;
  asio::steady_timer tick(control_);
  while (listeners_.active() > 0 && Clock::now() < deadline) {
    tick.expires_after(std::chrono::milliseconds(50));
    co_await tick.async_wait(use_nothrow);
  }
  if (const auto left = listeners_.active(); left > 0) {
    spdlog::warn("grace period over: closing {} connections", left);
  }
  stop_everything();
}

void Runtime::stop_everything() {
  if (admin_) admin_->stop();
  checker_.stop();
  discovery_.stop();
  signals_.cancel();
  for (auto& w : workers_) w->stop();
  control_.stop();
}

int Runtime::run() {
  const unsigned n = worker_count(*cfg_);
  for (unsigned i = 0; i < n; ++i) {
    workers_.push_back(std::make_unique<Worker>(i, cfg_->tuning));
    // Passive health: a worker reports a server that failed real connects
    // too often; the control plane ejects it (decided once, here).
    workers_.back()->set_outlier_hook(
        [this](const PoolRuntime& pool, std::uint64_t id) { report_outlier(pool, id); });
    // A worker whose faults repeat ends the process (docs/architecture.md,
    // "When a worker fails"): exit 3, for systemd to start it anew.
    workers_.back()->set_fatal_hook([this](std::string reason) {
      asio::post(control_, [this, reason = std::move(reason)] {
        if (exit_code_ != 0) return;
        exit_code_ = 3;
        shutting_down_ = true;
        spdlog::critical("stopping: {}", reason);
        notify_stopping(reason);
        stop_everything();
      });
    });
  }
  // The admin socket listens before the listeners do, so that whoever finds
  // a listener accepting also finds /status and /healthz (its connections
  // wait in the backlog until the control loop runs).
  admin_ = std::make_unique<AdminServer>(control_, cfg_->admin, shutting_down_, pool_control_);
  // Metrics: read from the live counters at each scrape (control thread).
  admin_->set_metrics([this] { return exporter_.render(metrics_sample()); });
  admin_->set_reload([this] { return reload("POST /reload"); });
  admin_->set_liveness([this] { return worker_problem(); });
  admin_->set_listeners([this] { return listeners_json(); });
  ListenerSet::Plan plan = listeners_.prepare(*cfg_, pools_.all());  // throws ListenError
  listeners_.commit(plan);
  for (std::size_t w = 0; w < workers_.size(); ++w) workers_[w]->install(generation_for(w, plan));

  // Active checks: one loop per server of every pool that is checked, the
  // server's id as the target; servers that DNS or a reload add or remove
  // later start or stop theirs through the membership hooks.
  for (std::size_t p = 0; p < pools_.size(); ++p) {
    for (const auto& server : pools_.at(p).snapshot->servers) start_check(p, server);
  }
  pool_control_.set_membership_hooks(
      {[this](std::size_t p, const balancer::ServerView& s) { start_check(p, s); },
       [this](std::uint64_t id) { checker_.remove(id); }});
  // Servers by DNS name: the first round is awaited (bounded by the
  // resolver's own timeouts) so that such pools are not empty at start.
  if (discovery_.needed()) {
    discovery_.start();
    const auto limit =
        Clock::now() + 3 * cfg_->resolver.timeout * std::max(1, cfg_->resolver.attempts);
    while (!discovery_.first_round_done() && Clock::now() < limit) {
      control_.run_one_for(std::chrono::milliseconds(50));
    }
    if (!discovery_.first_round_done()) {
      spdlog::warn("DNS discovery: first lookups still running; serving what is known");
    }
  }
  asio::co_spawn(control_, handle_signals(), asio::detached);
  asio::co_spawn(control_, report_every_second(), asio::detached);
  admin_->start();
  for (auto& w : workers_) w->start();
  // The control plane (health checks, DNS, admin) yields to the workers
  // when they share a core: traffic first. Its work is small per second
  // but bursty, and at equal priority it delays connections in its bursts
  // (bench: 1000 checked servers, docs/architecture.md). Set after the
  // workers start, which keep the default priority and policy.
  // Relative to the process's own nice value (getpriority may return -1 as
  // a valid value: errno tells).
  errno = 0;
  const int nice_now = ::getpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()));
  const int control_nice = std::min(19, (errno == 0 ? nice_now : 0) + kControlNice);
  if (::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), control_nice) != 0) {
    spdlog::debug("control plane: setpriority: {}", std::strerror(errno));
  }
  // SCHED_BATCH: when a check's answer wakes the control thread, it does
  // not preempt a busy worker; it runs when the worker waits or its slice
  // ends, with its nice share intact (unlike SCHED_IDLE, under which
  // checks slipped). Measured in docs/architecture.md, "Health checks
  // beside traffic".
  sched_param batch{};
  if (::sched_setscheduler(0, SCHED_BATCH, &batch) != 0) {
    spdlog::debug("control plane: SCHED_BATCH: {}", std::strerror(errno));
  }
  spdlog::info("switchboard {} running {} with {} workers, relay {}", SWITCHBOARD_VERSION, file_, n,
               config::to_string(cfg_->tuning.relay));
  // Every listener's sockets listen (bound in prepare, accepting once the
  // loops run; connections wait in the backlog until then).
  notify_ready(running_status());
  control_.run();
  for (auto& w : workers_) w->join();
  spdlog::info("stopped");
  return exit_code_;
}

boost::json::value Runtime::listeners_json() const {
  boost::json::array out;
  for (const auto& l : listeners_.current()) {
    boost::json::array listen;
    for (const auto& hp : l->config.listen) listen.emplace_back(hp.to_string());
    out.push_back(boost::json::object{
        {"name", l->config.name},
        {"protocol", config::to_string(l->config.protocol)},
        {"listen", std::move(listen)},
        // Against max-connections, which counts every worker's connections
        // (docs/configuration.md, "listeners").
        {"active_connections", l->stats->active.load(std::memory_order_relaxed)},
        {"max_connections", l->config.max_connections},
        {"connections_total", l->stats->connections_total.load(std::memory_order_relaxed)}});
  }
  return out;
}

std::string Runtime::worker_problem() const {
  for (const auto& w : workers_) {
    const auto since = w->since_heartbeat();
    if (!since) return fmt::format("worker {} has stopped", w->id());
    if (*since > kWorkerStuckAfter) {
      return fmt::format("worker {} has not run its event loop for {}s", w->id(),
                         std::chrono::duration_cast<std::chrono::seconds>(*since).count());
    }
  }
  return {};
}

}  // namespace

int run(const config::Config& cfg, const std::string& file) {
  configure_logging(cfg.log);
  // Declared first, destroyed last: the lines queued by the end (the error
  // that stopped the start included) are written before the process exits.
  struct StopLogging {
    ~StopLogging() { stop_logging(); }
  } stop_logging_at_exit;
  // splice(2) into a socket whose peer has gone raises SIGPIPE (only send()
  // takes MSG_NOSIGNAL); the error code is all we want.
  std::signal(SIGPIPE, SIG_IGN);
  if (const auto warning = descriptor_warning(raise_descriptor_limit(cfg))) {
    spdlog::warn("{}", *warning);
  }
  try {
    if (auto problem = transparent_problem(cfg)) throw std::runtime_error(*problem);
    Runtime runtime(std::make_shared<const config::Config>(cfg), file);
    return runtime.run();
  } catch (const ListenError& e) {
    spdlog::error("{}", e.what());
    return 3;
  } catch (const std::exception& e) {
    spdlog::error("cannot start: {}", e.what());
    return 3;
  }
}

}  // namespace sb::runtime
