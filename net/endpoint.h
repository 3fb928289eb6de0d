#pragma once
// Conversions between the one IP address type (net/ip_address.h) and Asio's
// addresses and endpoints.

#include <string>

#include "net/asio.h"
#include "net/ip_address.h"

namespace sb::net {

IpAddress to_ip(const asio::ip::address& address);
asio::ip::address to_address(const IpAddress& ip);
inline tcp::endpoint to_endpoint(const IpAddress& ip, std::uint16_t port) {
  return tcp::endpoint(to_address(ip), port);
}

// The two ends of a client's connection as the proxy sees them.
struct ClientEndpoints {
  tcp::endpoint client;  // the real client (from a PROXY header when one was accepted)
  tcp::endpoint local;   // the address the client connected to (when it was asked for)
};

// "192.0.2.1:25" / "[2001:db8::1]:25"; IPv4-mapped IPv6 shown as IPv4.
std::string to_string(const tcp::endpoint& ep);

}  // namespace sb::net
