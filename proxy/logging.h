#pragma once
// Process logging (spdlog to stderr) in text or JSON, and the access log: one
// line per connection, whatever `log.level` says; in JSON each access line is
// an object with typed fields (docs/configuration.md, `log`). Bytes outside printable
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
  std::uint64_t connection = 0;  // the connection's id (0: none, a SIP call)
  std::string_view listener;
  std::string_view frontend;  // the listener's addresses
  std::string_view client;    // the real client (after a PROXY header)
  std::string_view pool;
  std::string_view server;      // name, empty when none accepted
  std::string_view upstream;    // server address, empty when none
  std::uint64_t bytes_in = 0;   // from the client
  std::uint64_t bytes_out = 0;  // to the client
  std::chrono::steady_clock::duration duration{};
  // From the accept until a server accepted (every try included); zero
  // when none did.
  std::chrono::steady_clock::duration connect{};
  // From the accept until the server's first byte reached switchboard;
  // zero when it sent none.
  std::chrono::steady_clock::duration first_byte{};
  std::string_view outcome;  // "ok", "exhausted", "idle-timeout", "reset", ...
  int retries = 0;
  int tried = 0;  // servers tried
};

// What one HTTP request did (http listeners log a line per request, not
// per connection).
struct HttpAccessRecord {
  std::uint64_t connection = 0;  // the client connection's id
  std::string_view listener;
  std::string_view client;
  std::string_view method;
  std::string_view host;
  std::string_view path;  // the request target as received
  int status = 0;
  std::uint64_t bytes_in = 0;   // request body from the client
  std::uint64_t bytes_out = 0;  // response body to the client
  // When the request's head was read: the clock of duration and first_byte.
  std::chrono::steady_clock::time_point started{};
  std::chrono::steady_clock::duration duration{};
  // Until the head of the server's response that the client gets; zero when
  // no server answered (switchboard did).
  std::chrono::steady_clock::duration first_byte{};
  std::string_view pool;
  std::string_view server;  // name, empty when none answered
  int retries = 0;
  std::string_view protocol;     // "h1" | "h2"
  std::string_view tls_version;  // empty: cleartext
  std::string_view sni;
  std::string_view reason;  // why switchboard answered itself; empty when a server did
};

// What one SMTP transaction did (smtp listeners in inspect mode log a line
// per transaction).
struct SmtpAccessRecord {
  std::uint64_t connection = 0;  // the client connection's id
  std::string_view listener;
  std::string_view client;
  std::string_view sender;  // the MAIL FROM path, "" for the null sender
  std::size_t recipients = 0;
  std::uint64_t size = 0;                          // message bytes as received
  std::chrono::steady_clock::duration duration{};  // MAIL to the final reply
  std::string_view pool;
  std::string_view server;  // the last server tried, empty when none
  int tries = 0;            // servers the transaction was presented to
  std::string_view result;  // accepted | replayed | tempfail | rejected
  int reply = 0;            // the final reply's code, as the client got it
};

bool access_log_enabled();
void write_access_log(const AccessRecord& r);
void write_access_log(const HttpAccessRecord& r);
void write_access_log(const SmtpAccessRecord& r);

}  // namespace sb::runtime
