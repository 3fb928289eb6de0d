#pragma once
// Servers found through DNS (docs/configuration.md: HOST:PORT, srv:, mx:), kept current on
// the control plane: each pool with such entries is resolved with c-ares,
// mapped to members (dns/discovery.h) and handed to PoolControl::set_members,
// then resolved again when the smallest TTL (clamped to resolver.min-ttl /
// max-ttl) has passed. A failed lookup keeps that entry's last good servers.

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "dns/discovery.h"
#include "dns/resolver.h"
#include "proxy/config/config.h"
#include "proxy/control/pool_control.h"
#include "proxy/control/pool_registry.h"

namespace sb::runtime {

class Discovery {
 public:
  Discovery(asio::any_io_executor control, const config::ResolverConfig& resolver,
            PoolRegistry& pools, PoolControl& pool_control);

  // Whether any pool has a DNS entry (otherwise nothing runs).
  bool needed() const { return !pools_with_names_.empty(); }
  // Starts one resolution loop per such pool.
  void start();
  // Reload: the registry holds new pools. Stops the loops (a lookup in
  // flight is dropped) and starts them for the pools of now; what each
  // name resolved to last is kept. resolver.min-ttl / max-ttl apply at
  // once; other resolver settings at the next start (config_changes says so).
  void restart(const config::ResolverConfig& resolver);
  // The members of `pool` from its IP:PORT entries and the last answers
  // for its names (what a reload installs before the names resolve again).
  std::vector<balancer::ServerView> members_now(const config::PoolConfig& pool) const;
  // Every pool's first round has finished (successfully or not).
  bool first_round_done() const { return first_rounds_left_ == 0; }
  void stop();

  const dns::ResolverStats& stats() const { return resolver_->stats(); }

 private:
  struct Entry {
    std::vector<dns::DiscoveredServer> last_good;
    bool failing = false;  // logged once per run of failures
  };
  struct Round {
    std::chrono::seconds smallest_ttl{0};
    bool any_ttl = false;
    bool any_failure = false;
    void note_ttl(std::chrono::seconds ttl) {
      smallest_ttl = any_ttl ? std::min(smallest_ttl, ttl) : ttl;
      any_ttl = true;
    }
  };
  asio::awaitable<void> run(std::shared_ptr<PoolRuntime> pool, std::uint64_t generation,
                            std::shared_ptr<asio::steady_timer> timer);
  void spawn_all();
  // Survives reloads: the last answer for an entry of a pool.
  static std::string entry_key(const config::PoolConfig& pool, const config::ServerEntry& entry);
  bool current(std::uint64_t generation) const { return !*stopped_ && generation == generation_; }
  asio::awaitable<void> resolve_entry(const config::PoolConfig& pool,
                                      const config::ServerEntry& entry, Entry& state, Round& round);
  // Addresses of SRV targets / MX hosts; false (problem set) if one fails.
  asio::awaitable<bool> resolve_hosts(const std::vector<std::string>& hosts,
                                      dns::AddressesByName& out, Round& round,
                                      std::string& problem);
  std::vector<balancer::ServerView> members(const config::PoolConfig& pool,
                                            const std::vector<Entry>& entries) const;
  void ensure_resolver();

  asio::any_io_executor control_;
  config::ResolverConfig options_;
  PoolRegistry& pools_;
  PoolControl& pool_control_;
  std::unique_ptr<dns::Resolver> resolver_;
  std::vector<std::shared_ptr<PoolRuntime>> pools_with_names_;
  std::size_t first_rounds_left_ = 0;
  std::uint64_t generation_ = 0;
  std::vector<std::shared_ptr<asio::steady_timer>> timers_;
  std::map<std::string, std::vector<dns::DiscoveredServer>> last_good_;
  std::shared_ptr<bool> stopped_ = std::make_shared<bool>(false);
};

}  // namespace sb::runtime
