#pragma once
// What to check on one server and how often: the health module's own view of
// a pool's `health:` section (docs/configuration.md), filled by the runtime from the
// configuration so that this module does not depend on the config types.

#include <array>
#include <chrono>
#include <cstdint>
#include <string>

#include "net/ip_address.h"

namespace sb::health {

enum class CheckType : std::uint8_t { none, tcp, smtp, http, https, sip_options };
enum class SipTransport : std::uint8_t { udp, tcp };

struct CheckSpec {
  CheckType type = CheckType::tcp;
  std::chrono::milliseconds interval{5000};
  std::chrono::milliseconds timeout{2000};
  int rise = 2;
  int fall = 3;
  // Where to connect: the server's address, with the check's `port` if set.
  net::IpAddress ip;
  std::uint16_t port = 0;
  // Bytes to send first (a PROXY v1 UNKNOWN / v2 LOCAL header) when the pool
  // speaks PROXY to its servers, so that they accept the check.
  std::string proxy_header;
  // smtp
  std::string helo = "switchboard.localdomain";
  bool starttls = false;
  // http
  std::string path = "/";
  std::string host;
  int expect_status_low = 200;
  int expect_status_high = 399;
  std::string expect_body;
  // http/https: keep the connection open for the next check when the server
  // allows it (HTTP/1.1 keep-alive) and this one passed.
  bool reuse_connection = true;
  // sip-options: the transport of the SIP listener that uses the pool.
  SipTransport sip_transport = SipTransport::udp;

  // A reload restarts a server's check only when this changes.
  bool operator==(const CheckSpec&) const = default;
};

}  // namespace sb::health
