#pragma once
// `switchboard mx-test DOMAIN` (README.md "DNS round-robin and MX testing"): resolve the domain's
// MX records
// `--queries` times with c-ares (through `--dns` when given), judge whether
// equal-preference hosts take turns coming first (chi-square), then probe
// every address of every MX host over SMTP at once (banner, EHLO
// extensions, STARTTLS and the certificate). A table, or one JSON object
// with --json. Exit 0 when every address passes, 1 when one fails or the
// domain has no MX (the RFC 5321 §5.1 implicit MX is then probed and
// reported), 2 for usage errors.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sb::mxtest {

struct Options {
  std::string domain;
  std::optional<std::string> dns;  // "HOST:PORT" of the DNS server to ask
  int queries = 20;
  std::uint16_t port = 25;
  std::chrono::milliseconds timeout{5000};
  bool json = false;
};

// Runs the test and prints the report on stdout; returns the exit code.
int run(const Options& options);

}  // namespace sb::mxtest
