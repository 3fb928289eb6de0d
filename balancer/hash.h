#pragma once
// Small, fast, stable hashes for affinity keys and Maglev permutations. Not
// cryptographic: a client that games its own source address only moves
// itself. Stable across runs and builds (no std::hash), so affinity survives
// restarts and every worker agrees.

#include <cstdint>
#include <span>
#include <string_view>

namespace sb::balancer {

// splitmix64's finaliser: a full-avalanche 64-bit mix.
constexpr std::uint64_t mix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// FNV-1a over the bytes, then mixed (FNV alone clusters on short keys).
constexpr std::uint64_t hash_bytes(std::span<const std::uint8_t> bytes, std::uint64_t seed = 0) {
  std::uint64_t h = 0xcbf29ce484222325ull ^ seed;
  for (std::uint8_t b : bytes) {
    h ^= b;
    h *= 0x100000001b3ull;
  }
  return mix64(h);
}

constexpr std::uint64_t hash_string(std::string_view s, std::uint64_t seed = 0) {
  std::uint64_t h = 0xcbf29ce484222325ull ^ seed;
  for (char c : s) {
    h ^= static_cast<std::uint8_t>(c);
    h *= 0x100000001b3ull;
  }
  return mix64(h);
}

// The 64-bit affinity key of an L7 value (a cookie, the dry run's `key=`).
constexpr std::uint64_t affinity_key(std::string_view value) {
  return hash_string(value, 0x73776b6579ull);
}

// A seeded generator for the randomised algorithms (xorshift64*), owned by
// one balancer on one worker: deterministic for a given seed, no locks.
class Random {
 public:
  explicit Random(std::uint64_t seed) : state_(mix64(seed) | 1) {}
  std::uint64_t next() {
    state_ ^= state_ >> 12;
    state_ ^= state_ << 25;
    state_ ^= state_ >> 27;
    return state_ * 0x2545f4914f6cdd1dull;
  }
  // In [0, n), n > 0; the modulo bias (< n / 2^64) does not matter here.
  std::uint64_t below(std::uint64_t n) { return next() % n; }

 private:
  std::uint64_t state_;
};

}  // namespace sb::balancer
