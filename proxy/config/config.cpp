#include "proxy/config/config.h"

#include <fmt/format.h>

#include <algorithm>

namespace sb::config {

std::string HostPort::to_string() const {
  if (kind == Kind::ipv6) return fmt::format("[{}]:{}", host, port);
  return fmt::format("{}:{}", host, port);
}

const PoolConfig* Config::find_pool(std::string_view name) const {
  const auto it =
      std::find_if(pools.begin(), pools.end(), [&](const PoolConfig& p) { return p.name == name; });
  return it == pools.end() ? nullptr : &*it;
}

// The names below are the spellings of the configuration file; the loader's
// tests check that each one parses back to the same value.

std::string_view to_string(Balance balance) {
  switch (balance) {
    case Balance::round_robin:
      return "round-robin";
    case Balance::weighted_round_robin:
      return "weighted-round-robin";
    case Balance::least_connections:
      return "least-connections";
    case Balance::random_two_choices:
      return "random-two-choices";
    case Balance::source_ip:
      return "source-ip";
    case Balance::source_network:
      return "source-network";
    case Balance::maglev:
      return "maglev";
    case Balance::first_available:
      return "first-available";
  }
  return "unknown";
}

std::string_view to_string(Protocol protocol) {
  switch (protocol) {
    case Protocol::tcp:
      return "tcp";
    case Protocol::smtp:
      return "smtp";
    case Protocol::http:
      return "http";
    case Protocol::sip:
      return "sip";
    case Protocol::dns:
      return "dns";
  }
  return "unknown";
}

std::string_view to_string(CheckType check) {
  switch (check) {
    case CheckType::none:
      return "none";
    case CheckType::tcp:
      return "tcp";
    case CheckType::smtp:
      return "smtp";
    case CheckType::http:
      return "http";
    case CheckType::https:
      return "https";
    case CheckType::sip_options:
      return "sip-options";
  }
  return "unknown";
}

std::string_view to_string(AdminState state) {
  switch (state) {
    case AdminState::enabled:
      return "enabled";
    case AdminState::drain:
      return "drain";
    case AdminState::disabled:
      return "disabled";
  }
  return "unknown";
}

std::string_view to_string(ProxyProtocol protocol) {
  switch (protocol) {
    case ProxyProtocol::none:
      return "none";
    case ProxyProtocol::v1:
      return "v1";
    case ProxyProtocol::v2:
      return "v2";
  }
  return "unknown";
}

std::string_view to_string(RelayMode mode) {
  switch (mode) {
    case RelayMode::automatic:
      return "auto";
    case RelayMode::copy:
      return "copy";
    case RelayMode::splice:
      return "splice";
  }
  return "unknown";
}

std::string_view to_string(AcceptModel model) {
  return model == AcceptModel::shared ? "shared" : "per-worker";
}

}  // namespace sb::config
