#pragma once
// Conversions between the configuration's and the codecs' address types and
// Asio endpoints.

#include <optional>
#include <string>

#include "proxy/config/config.h"
#include "proxy/net/cidr.h"
#include "proxy/runtime/asio.h"

namespace sb::runtime {

// An IP literal HostPort as an endpoint; nullopt for a host name (those are
// resolved by the resolver, never with a blocking getaddrinfo).
std::optional<tcp::endpoint> to_endpoint(const config::HostPort& hp);

net::IpBytes to_ip_bytes(const asio::ip::address& address);
asio::ip::address to_address(const net::IpBytes& ip);

// "192.0.2.1:25" / "[2001:db8::1]:25"; IPv4-mapped IPv6 shown as IPv4.
std::string to_string(const tcp::endpoint& ep);

}  // namespace sb::runtime
