#pragma once
// A configured address (config::HostPort) as a socket endpoint.

#include <optional>

#include "proxy/asio.h"
#include "proxy/config/config.h"

namespace sb::runtime {

// An IP literal HostPort as an endpoint; nullopt for a host name (those are
// resolved by the resolver, never with a blocking getaddrinfo).
std::optional<tcp::endpoint> to_endpoint(const config::HostPort& hp);

}  // namespace sb::runtime
