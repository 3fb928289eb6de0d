#include "proxy/protocols/http/affinity.h"

#include "proxy/protocols/http/header_rules.h"

namespace sb::runtime::http {

std::optional<std::uint64_t> server_for_cookie(const balancer::PoolSnapshot& snapshot,
                                               std::string_view pool, std::string_view cookie) {
  const auto value = parse_server_token(cookie);
  if (!value) return std::nullopt;
  for (const auto& view : snapshot.servers) {
    if (server_token_value(pool, view.name) == *value) return view.id;
  }
  return std::nullopt;
}

std::optional<std::uint64_t> server_for_source(const balancer::PoolSnapshot& snapshot,
                                               std::string_view pool, std::uint64_t key) {
  std::optional<std::uint64_t> best;
  std::uint64_t best_score = 0;
  for (const auto& view : snapshot.servers) {
    if (!view.eligible()) continue;
    std::uint64_t x = key ^ server_token_value(pool, view.name);
    x ^= x >> 33;  // splitmix64's finaliser: every bit of both inputs counts
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    if (!best || x > best_score) {
      best = view.id;
      best_score = x;
    }
  }
  return best;
}

}  // namespace sb::runtime::http
