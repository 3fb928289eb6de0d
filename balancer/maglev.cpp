#include "balancer/maglev.h"

#include <algorithm>
#include <array>

#include "balancer/hash.h"

namespace sb::balancer {
namespace {

constexpr std::uint64_t kSlotsPerServer = 100;
constexpr ServerIndex kEmpty = static_cast<ServerIndex>(-1);
// Distinct seeds for the two permutation hashes and the key hash.
constexpr std::uint64_t kOffsetSeed = 0x6d61676c65763031ull;
constexpr std::uint64_t kSkipSeed = 0x6d61676c65763032ull;

bool is_prime(std::uint64_t n) {
  if (n < 2) return false;
  for (std::uint64_t d = 2; d * d <= n; ++d) {
    if (n % d == 0) return false;
  }
  return true;
}

}  // namespace

std::uint64_t next_prime(std::uint64_t n) {
  while (!is_prime(n)) ++n;
  return n;
}

std::uint64_t table_size(std::size_t members) {
  // A key's slot is hash mod M, so M must not change when a server is added
  // or removed, or every key would move: sizes come from a coarse ladder of
  // primes, each at least 100 slots per server for the pools it covers.
  const std::uint64_t need = std::max<std::uint64_t>(kSlotsPerServer * members, 2);
  for (std::uint64_t prime : {5003ull, 65537ull, 655373ull}) {
    if (prime >= need) return prime;
  }
  return next_prime(need);
}

MaglevTable::MaglevTable(const PoolSnapshot& snapshot, std::span<const ServerIndex> members) {
  if (members.empty()) return;
  const std::uint64_t m = table_size(members.size());
  slots_.assign(m, kEmpty);
  const std::size_t n = members.size();
  std::vector<std::uint64_t> offset(n), skip(n), next(n, 0);
  for (std::size_t i = 0; i < n; ++i) {
    const std::string& name = snapshot.servers[members[i]].name;
    offset[i] = hash_string(name, kOffsetSeed) % m;
    skip[i] = hash_string(name, kSkipSeed) % (m - 1) + 1;
  }
  // Each round every server claims `weight` slots, so shares follow weights.
  std::uint64_t filled = 0;
  while (filled < m) {
    for (std::size_t i = 0; i < n && filled < m; ++i) {
      const int turns = std::max(1, snapshot.servers[members[i]].weight);
      for (int t = 0; t < turns && filled < m; ++t) {
        std::uint64_t slot = (offset[i] + next[i] * skip[i]) % m;
        while (slots_[slot] != kEmpty) {
          ++next[i];
          slot = (offset[i] + next[i] * skip[i]) % m;
        }
        slots_[slot] = members[i];
        ++next[i];
        ++filled;
      }
    }
  }
}

std::optional<ServerIndex> MaglevTable::lookup(std::uint64_t key,
                                               const std::vector<std::uint8_t>& eligible,
                                               std::span<const ServerIndex> tried) const {
  const std::size_t m = slots_.size();
  if (m == 0) return std::nullopt;
  // Multiply-shift range reduction instead of key % m: as uniform for a mixed
  // 64-bit key, and a few cycles instead of a 64-bit division per pick.
  __extension__ using u128 = unsigned __int128;
  std::size_t slot = static_cast<std::size_t>((static_cast<u128>(key) * m) >> 64);
  for (std::size_t step = 0; step < m; ++step) {
    const ServerIndex s = slots_[slot];
    if (eligible[s] && !was_tried(tried, s)) return s;
    if (++slot == m) slot = 0;
  }
  return std::nullopt;
}

HashBalancer::HashBalancer(std::shared_ptr<const PoolSnapshot> snapshot, HashKey key,
                           const BalancerOptions& options, std::string_view name)
    : Balancer(std::move(snapshot)), key_(key), options_(options), name_(name) {
  for (const ServerView& s : snapshot_->servers) eligible_.push_back(s.eligible() ? 1 : 0);
  for (const Tier& tier : group_tiers(*snapshot_, /*all_members=*/true)) {
    const bool any = std::any_of(tier.servers.begin(), tier.servers.end(),
                                 [&](ServerIndex s) { return snapshot_->servers[s].eligible(); });
    tiers_.push_back({tier.priority, any, MaglevTable(*snapshot_, tier.servers)});
  }
}

std::uint64_t HashBalancer::key_of(const PickContext& ctx) const {
  if (key_ == HashKey::key_or_address && ctx.hash_key) return mix64(*ctx.hash_key);
  std::array<std::uint8_t, 16> bytes{};
  const std::size_t len = std::min<std::size_t>(ctx.client_address.size(), bytes.size());
  std::copy_n(ctx.client_address.begin(), len, bytes.begin());
  if (key_ == HashKey::network) {
    const int prefix = len == 4 ? options_.source_prefix_v4 : options_.source_prefix_v6;
    for (std::size_t i = 0; i < len; ++i) {
      const int bits_here = std::clamp(prefix - static_cast<int>(i * 8), 0, 8);
      bytes[i] &= static_cast<std::uint8_t>(0xff00u >> bits_here);
    }
  }
  return hash_bytes(std::span<const std::uint8_t>(bytes.data(), len), len);
}

std::optional<Pick> HashBalancer::pick(const PickContext& ctx) {
  const std::uint64_t key = key_of(ctx);
  for (const TierTable& t : tiers_) {
    if (!t.any_eligible) continue;
    if (auto s = t.table.lookup(key, eligible_, ctx.tried)) return Pick{*s, t.priority};
  }
  return std::nullopt;
}

}  // namespace sb::balancer
