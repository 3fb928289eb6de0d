#pragma once
// Process logging (spdlog to stderr) in text or JSON, and the access log: one
// line per connection, whatever `log.level` says. Bytes outside printable
// ASCII are escaped in every line. Lines are queued and written by one
// thread: a worker never waits for stderr. Configure once at start; loggers
// are thread-safe.

#include <chrono>
#include <cstdint>
#include <string_view>

#include "proxy/config/config.h"

namespace sb::runtime {

void configure_logging(const config::LogConfig& log);
// Writes the queued lines and ends the writer thread: last thing before exit.
void stop_logging();
// Control thread, now and then: a warning when lines were dropped since the
// last call (stderr slower than the log).
void report_dropped_log_lines();

// What one finished connection did, for the access log.
struct AccessRecord {
  std::string_view listener;
  std::string_view client;  // the real client (after a PROXY header)
  std::string_view pool;
  std::string_view server;      // name, empty when none accepted
  std::string_view upstream;    // server address, empty when none
  std::uint64_t bytes_in = 0;   // from the client
  std::uint64_t bytes_out = 0;  // to the client
  std::chrono::steady_clock::duration duration{};
  std::string_view outcome;  // "ok", "exhausted", "idle-timeout", "reset", ...
  int retries = 0;
};

bool access_log_enabled();
void write_access_log(const AccessRecord& r);

}  // namespace sb::runtime
