#pragma once
// What `switchboard mx-test` asks of each MX address (README.md "DNS round-robin and MX testing"):
// more than a health check's pass/fail. Connect time, the 220 banner, the EHLO extensions, and
// where STARTTLS is offered the handshake and the certificate: subject, issuer, expiry, and whether
// it names the MX host. Runs on the caller's event loop within one timeout for the whole dialogue.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace sb::health {

struct TlsCertificateInfo {
  std::string protocol;  // "TLSv1.3"
  std::string subject;   // "CN=mx1.example.com"
  std::string issuer;
  std::string not_after;  // "2027-01-01T00:00:00Z"
  bool expired = false;
  bool name_matches = false;  // the certificate names the MX host (RFC 6125 rules)
};

struct MxServerReport {
  bool ok = false;  // greeted with 220, EHLO answered 250, and STARTTLS (if offered) worked
  double connect_ms = 0;
  std::string banner;                   // the 220 reply's first line
  std::vector<std::string> extensions;  // EHLO keywords, upper case
  std::optional<TlsCertificateInfo> tls;
  std::string error;  // why not ok
};

// `host`: the MX host name (SNI, and the name the certificate must match).
boost::asio::awaitable<MxServerReport> probe_mx_server(boost::asio::ip::address address,
                                                       std::uint16_t port, std::string host,
                                                       std::string helo,
                                                       std::chrono::milliseconds timeout);

}  // namespace sb::health
