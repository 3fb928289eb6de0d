#pragma once
// The control plane's view of the pools for the admin API: the current
// snapshot of each pool, operator actions (drain / enable / disable) that
// publish a new snapshot to every worker, /status, and the dry-run pick.
//
// Control-plane thread only. Workers never see this object: they receive
// immutable snapshots through Worker::publish.

#include <boost/json/value.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "balancer/pool_snapshot.h"
#include "health/health_verdict.h"
#include "health/probe.h"
#include "proxy/runtime/pool_registry.h"
#include "proxy/runtime/worker.h"

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

  // A health check of one server finished (control thread): remember it for
  // /status and, on a transition, publish the pool with the new health.
  void apply_check(std::size_t pool, std::size_t server, const health::ProbeResult& result,
                   health::Transition transition);

  // Passive health for a pool without active checks: down now, back up after
  // `ejection_time` (no check could bring it back otherwise).
  void eject_unchecked(std::size_t pool, std::size_t server,
                       std::chrono::milliseconds ejection_time, const std::string& reason);

  // SPEC §6 /status.
  boost::json::value status() const;

  struct DryRun {
    Lookup lookup = Lookup::ok;
    std::string error;        // a bad client address
    boost::json::value body;  // the answer
  };
  // SPEC §6 /pools/{pool}/pick: which server a new connection from `client`
  // (with L7 affinity key `key`, when given) would get now, and why. Builds a
  // throwaway balancer over the current snapshot: no worker state changes.
  DryRun dry_run(std::string_view pool, std::string_view client,
                 std::optional<std::string_view> key) const;

 private:
  std::optional<std::size_t> find_pool(std::string_view name) const;
  boost::json::value server_json(std::size_t pool, std::size_t server) const;

  void set_health(std::size_t pool, std::size_t server, bool up, std::string_view why);

  asio::any_io_executor control_;
  PoolRegistry& pools_;
  std::vector<std::unique_ptr<Worker>>& workers_;
  struct CheckRecord {
    bool any = false;
    std::string result;  // pass | fail | timeout
    double latency_ms = 0;
    std::string detail;
    bool failed_once = false;
    std::chrono::system_clock::time_point failure_at;
    std::string failure_detail;
    std::vector<std::string> failure_transcript;
  };
  void publish(std::size_t pool, std::shared_ptr<balancer::PoolSnapshot> next);

  // Per pool, per server: when its effective state last changed.
  std::vector<std::vector<std::chrono::system_clock::time_point>> since_;
  std::vector<std::vector<CheckRecord>> checks_;
};

}  // namespace sb::runtime
