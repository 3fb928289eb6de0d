#pragma once
// Which server a request's affinity names (docs/configuration.md,
// `http.affinity`), over the pool snapshot the balancer picks from. Pure: a
// snapshot in, a server id out; the attempt then prefers that server while
// it is eligible and the pool's algorithm picks otherwise.

#include <cstdint>
#include <optional>
#include <string_view>

#include "balancer/pool_snapshot.h"

namespace sb::runtime::http {

// cookie: the server whose token (header_rules.h server_token, of the
// pool's and the server's names) the cookie carries, if it is still in the
// pool (eligible or not: the attempt decides).
std::optional<std::uint64_t> server_for_cookie(const balancer::PoolSnapshot& snapshot,
                                               std::string_view pool, std::string_view cookie);

// source-ip, whatever the pool's algorithm: rendezvous hashing of the
// client's address key over the eligible servers, so that a server going
// away moves only its own clients and one coming back takes back only its
// own.
std::optional<std::uint64_t> server_for_source(const balancer::PoolSnapshot& snapshot,
                                               std::string_view pool, std::uint64_t key);

}  // namespace sb::runtime::http
