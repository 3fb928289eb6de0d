#pragma once
// Maglev consistent hashing (Eisenbud et al., NSDI 2016; Katran's
// MaglevHash) and the affinity algorithms built on it.
//
// A lookup table of M slots (M a prime >= 100 x members, from a fixed ladder
// 5003 / 65537 / 655373 so that adding a server does not change M) is
// filled from per-server permutations, heavier servers taking more turns,
// so each server owns a share of slots proportional to its weight. A key
// maps to slot hash(key) mod M.
//
// The table holds every member of a tier, up or not. A key whose slot names
// a server that is not eligible (down, drained, disabled) or already tried
// walks forward to the next slot: the "next in hash order". So a server
// going down moves only its own keys (no key moves between two servers that
// stay up), retries are stable, and a server coming back takes its keys
// back. Membership changes (reload, DNS) rebuild the table, which moves about
// 1/N of the keys.

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "balancer/balancer.h"
#include "balancer/tiers.h"

namespace sb::balancer {

class MaglevTable {
 public:
  // `members`: indexes into `snapshot.servers`, whose names and weights
  // define the permutations (names, not positions, so a reordered config
  // keeps its keys).
  MaglevTable(const PoolSnapshot& snapshot, std::span<const ServerIndex> members);

  std::size_t size() const { return slots_.size(); }
  // The owner of the key's slot, or the next eligible untried server after
  // it; nullopt when the table has none. `eligible[s]` is the snapshot's
  // verdict for server s, copied into a dense array so that a lookup touches
  // two small arrays and not the server records.
  std::optional<ServerIndex> lookup(std::uint64_t key, const std::vector<std::uint8_t>& eligible,
                                    std::span<const ServerIndex> tried) const;

 private:
  std::vector<ServerIndex> slots_;
};

// The smallest prime >= n (n >= 2).
std::uint64_t next_prime(std::uint64_t n);
// M for a tier of `members` servers: the first of 5003, 65537, 655373 that
// holds 100 slots per member (beyond: the next prime). Up to 50 servers a
// tier costs 20 KB per worker.
std::uint64_t table_size(std::size_t members);

// What the key of a connection is made of.
enum class HashKey : std::uint8_t {
  address,        // the whole client address (source-ip)
  network,        // the client address cut to a prefix (source-network)
  key_or_address  // the L7 affinity key when there is one, else the address (maglev)
};

class HashBalancer final : public Balancer {
 public:
  HashBalancer(std::shared_ptr<const PoolSnapshot> snapshot, HashKey key,
               const BalancerOptions& options, std::string_view name);
  std::optional<Pick> pick(const PickContext& ctx) override;
  std::string_view algorithm() const override { return name_; }

  // The 64-bit key this balancer would use for `ctx` (for the dry run).
  std::uint64_t key_of(const PickContext& ctx) const;

 private:
  struct TierTable {
    int priority;
    bool any_eligible;  // a tier with none is skipped without walking its table
    MaglevTable table;
  };
  std::vector<TierTable> tiers_;
  std::vector<std::uint8_t> eligible_;  // by ServerIndex
  HashKey key_;
  BalancerOptions options_;
  std::string_view name_;
};

}  // namespace sb::balancer
