#pragma once
// The control plane's view of the pools for the admin API: the current
// snapshot of each pool, operator actions (drain / enable / disable) that
// publish a new snapshot to every worker, /status, and the dry-run pick.
//
// Control-plane thread only. Workers never see this object: they receive
// immutable snapshots through Worker::publish.

#include <boost/json/value.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "balancer/pool_snapshot.h"
#include "health/health_verdict.h"
#include "health/probe.h"
#include "proxy/control/pool_registry.h"
#include "proxy/worker/worker.h"

namespace sb::runtime {

class PoolControl {
 public:
  PoolControl(asio::any_io_executor control, PoolRegistry& pools,
              std::vector<std::unique_ptr<Worker>>& workers);

  enum class Lookup { ok, no_pool, no_server };
  struct ActionResult {
    Lookup lookup = Lookup::ok;
    boost::json::value server;  // the server's /status entry after the change
  };
  // Sets what the operator wants for one server and publishes the pool.
  ActionResult set_admin_state(std::string_view pool, std::string_view server,
                               balancer::AdminState state);

  // A health check of server `id` finished (control thread): remember it for
  // /status and, on a transition, publish its pool with the new health.
  // Ignored when the server has left its pool meanwhile.
  void apply_check(std::uint64_t id, const health::ProbeResult& result,
                   health::Transition transition);

  // Passive health for a pool without active checks: down now, back up after
  // `ejection_time` (no check could bring it back otherwise).
  void eject_unchecked(std::uint64_t id, std::chrono::milliseconds ejection_time,
                       const std::string& reason);

  // Told of every server that joins or leaves a pool after start (DNS
  // discovery), so that its health check starts or stops.
  struct MembershipHooks {
    std::function<void(std::size_t pool, const balancer::ServerView&)> added;
    std::function<void(std::uint64_t id)> removed;
  };
  void set_membership_hooks(MembershipHooks hooks) { hooks_ = std::move(hooks); }

  // The pool's members are now `members` (static entries and what DNS
  // discovery found; id and stats unset). Servers that stay (same name and
  // address) keep their id, health, counters and connections and take the
  // new weight and priority; new ones start assumed up (docs/configuration.md); removed
  // ones leave the rotation while their open connections finish. Publishes
  // only when something changed; returns whether it did.
  // `cause` says why in the log ("from DNS", "by reload").
  bool set_members(std::size_t pool, std::vector<balancer::ServerView> members,
                   std::string_view cause = "DNS");

  // Reload: the registry holds a new set of pools (PoolRegistry::commit).
  // Servers of pools that are gone leave (their checks stop); servers of
  // the new pools' snapshots join. Call set_members per pool next.
  void rebuild();
  // While held, publish() only updates the registry: a reload hands the
  // workers every pool at once (Worker::post_install) instead.
  void hold_publication(bool hold) { held_ = hold; }

  // GET /status (README.md, "Admin API").
  boost::json::value status() const;

  // For the metrics, of server `id` (zeros for a server that has left): when
  // its state last changed and the notAfter of the certificate its last TLS
  // check saw (0: none), in unix seconds.
  struct ServerTimes {
    double state_changed = 0;
    double certificate_expiry = 0;
  };
  ServerTimes times(std::uint64_t id) const;

  struct DryRun {
    Lookup lookup = Lookup::ok;
    std::string error;        // a bad client address
    boost::json::value body;  // the answer
  };
  // GET /pools/{pool}/pick (README.md, "Admin API"): which server a new connection from `client`
  // (with L7 affinity key `key`, when given) would get now, and why. Builds a
  // throwaway balancer over the current snapshot: no worker state changes.
  DryRun dry_run(std::string_view pool, std::string_view client,
                 std::optional<std::string_view> key) const;

 private:
  std::optional<std::size_t> find_pool(std::string_view name) const;
  boost::json::value server_json(std::size_t pool, std::size_t server) const;

  void set_health(std::uint64_t id, bool up, std::string_view why);
  // Where server `id` is now: (pool, index), or nullopt when it has left.
  std::optional<std::pair<std::size_t, std::size_t>> locate(std::uint64_t id) const;
  void index_pool(std::size_t pool);

  asio::any_io_executor control_;
  PoolRegistry& pools_;
  std::vector<std::unique_ptr<Worker>>& workers_;
  struct CheckRecord {
    bool any = false;
    std::string result;  // pass | fail | timeout | error
    double latency_ms = 0;
    bool in_local_fault = false;  // logged once per run of local faults
    std::string detail;
    bool failed_once = false;
    std::chrono::system_clock::time_point failure_at;
    std::string failure_detail;
    std::vector<std::string> failure_transcript;
    std::int64_t certificate_expiry = 0;  // unix seconds; kept across checks without a handshake
  };
  struct ServerRecord {
    std::size_t pool = 0;
    std::chrono::system_clock::time_point since;  // when its effective state last changed
    // When its health (up/down, from checks or ejection) last changed, or
    // when it joined: apart from `since`, which an operator's drain moves too.
    std::chrono::system_clock::time_point health_since;
    CheckRecord check;
  };
  void publish(std::size_t pool, std::shared_ptr<balancer::PoolSnapshot> next);

  // By server id; pool membership and each server's index in its pool's
  // current snapshot.
  std::unordered_map<std::uint64_t, ServerRecord> records_;
  std::vector<std::unordered_map<std::uint64_t, std::size_t>> index_;
  MembershipHooks hooks_;
  bool held_ = false;
};

}  // namespace sb::runtime
