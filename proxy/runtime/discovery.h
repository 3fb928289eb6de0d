#pragma once
// Servers found through DNS (SPEC §3: HOST:PORT, srv:, mx:), kept current on
// the control plane: each pool with such entries is resolved with c-ares,
// mapped to members (dns/discovery.h) and handed to PoolControl::set_members,
// then resolved again when the smallest TTL (clamped to resolver.min-ttl /
// max-ttl) has passed. A failed lookup keeps that entry's last good servers.

#include <chrono>
#include <memory>
#include <vector>

#include "dns/discovery.h"
#include "dns/resolver.h"
#include "proxy/config/config.h"
#include "proxy/runtime/pool_control.h"
#include "proxy/runtime/pool_registry.h"

namespace sb::runtime {

class Discovery {
 public:
  Discovery(asio::any_io_executor control, const config::ResolverConfig& resolver,
            PoolRegistry& pools, PoolControl& pool_control);

  // Whether any pool has a DNS entry (otherwise nothing runs).
  bool needed() const { return !pools_with_names_.empty(); }
  // Starts one resolution loop per such pool.
  void start();
  // Every pool's first round has finished (successfully or not).
  bool first_round_done() const { return first_rounds_left_ == 0; }
  void stop();

  const dns::ResolverStats& stats() const { return resolver_->stats(); }

 private:
  struct Entry {
    std::vector<dns::DiscoveredServer> last_good;
    bool resolved = false;  // last_good holds an answer
    bool failing = false;   // logged once per run of failures
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
  asio::awaitable<void> run(std::size_t pool);
  asio::awaitable<void> resolve_entry(const config::PoolConfig& pool,
                                      const config::ServerEntry& entry, Entry& state, Round& round);
  // Addresses of SRV targets / MX hosts; false (problem set) if one fails.
  asio::awaitable<bool> resolve_hosts(const std::vector<std::string>& hosts,
                                      dns::AddressesByName& out, Round& round,
                                      std::string& problem);
  std::vector<balancer::ServerView> members(const config::PoolConfig& pool,
                                            const std::vector<Entry>& entries) const;

  asio::any_io_executor control_;
  config::ResolverConfig options_;
  PoolRegistry& pools_;
  PoolControl& pool_control_;
  std::unique_ptr<dns::Resolver> resolver_;
  std::vector<std::size_t> pools_with_names_;
  std::size_t first_rounds_left_ = 0;
  std::vector<std::unique_ptr<asio::steady_timer>> timers_;
  std::shared_ptr<bool> stopped_ = std::make_shared<bool>(false);
};

}  // namespace sb::runtime
