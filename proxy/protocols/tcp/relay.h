#pragma once
// Moves bytes both ways between a client and a server until both directions
// have ended (docs/architecture.md, "The life of a connection" step 6).
//
// - Back-pressure: a direction reads again only once its bytes are written.
// - Half-close: when one side stops sending, the other side's write half is
//   shut down and the opposite direction keeps flowing until it ends too.
// - A reset or error on either side closes both.
// - idle: no byte in either direction for this long closes both.
// - first byte: optionally, a client that has sent nothing by a deadline is
//   closed ("first-byte-timeout"), whatever the server sends meanwhile.
// - No allocation per byte: a pipe (splice mode) or a buffer (copy mode) is
//   borrowed from the worker only while bytes are in flight.
// - No syscall per wait: a direction reads until EAGAIN, then waits on the
//   reactor without re-arming the socket (net/readable_wait.h); the wait's
//   operation lives in the Direction, so waiting allocates nothing either.
//
// Why callbacks and not a coroutine: a relay spends its life idle, and what
// it holds while idle is the memory bill of every open connection. Two pumps
// and a watchdog as coroutines joined with awaitable operators cost ~9.8 KB
// per idle connection (measured: 15 live frames and group states); this
// object, its two sockets, one timer and its waits cost ~1.5 KB.
//
// One Relay per connection, on the worker thread that owns both sockets.
// Derive from it to receive the end (the session's access log and guards
// live in the derived object, so the whole connection is one allocation).

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

#include "balancer/server_stats.h"
#include "net/readable_wait.h"
#include "proxy/asio.h"
#include "proxy/worker/relay_resources.h"
#include "proxy/worker/worker.h"

namespace sb::runtime {

struct RelayResult {
  std::uint64_t from_client = 0;  // bytes read from the client (sent to the server)
  std::uint64_t to_client = 0;    // bytes read from the server (sent to the client)
  std::string_view outcome;       // "ok", "idle-timeout", "client-reset", "server-reset"
  // When the server's first byte was read; the default: it sent none.
  std::chrono::steady_clock::time_point first_from_server{};
};

class Relay : public std::enable_shared_from_this<Relay> {
 public:
  Relay(Worker& worker, tcp::socket client, tcp::socket server,
        std::chrono::milliseconds idle_timeout, balancer::ServerStats& stats);
  Relay(const Relay&) = delete;
  Relay& operator=(const Relay&) = delete;
  virtual ~Relay() = default;

  // Before start(): the client must have sent a byte by `deadline`
  // (client-first-byte-timeout).
  void set_first_byte_deadline(std::chrono::steady_clock::time_point deadline) {
    first_byte_deadline_ = deadline;
  }

  // Starts both directions and the idle watchdog; the object keeps itself
  // alive (through the pending operations) until the end.
  void start();

 protected:
  // Called once, on the worker thread, after both sockets are closed.
  virtual void on_finished(const RelayResult& result) = 0;

 private:
  using Clock = std::chrono::steady_clock;

  struct Direction {
    Direction(Relay* relay, tcp::socket* f, tcp::socket* t, std::atomic<std::uint64_t>* c,
              std::string_view e)
        : from(f), to(t), counter(c), error_outcome(e), readable(relay, &Relay::on_readable) {}
    tcp::socket* from;
    tcp::socket* to;
    std::atomic<std::uint64_t>* counter;  // the server's bytes counter for this way, or null
    std::string_view error_outcome;       // what an error here means
    std::uint64_t bytes = 0;
    bool done = false;
    std::size_t pending = 0;  // bytes read but not yet written
    std::size_t offset = 0;   // copy mode: first unwritten byte in `buffer`
    bool drained = false;     // the last read was short: the socket was empty
    bool bulk = false;        // a read filled the buffer: splice from now on (automatic)
    std::optional<PipePool::Lease> pipe;
    std::optional<BufferPool::Lease> buffer;
    // After a read that found nothing (EAGAIN): a wait without re-arm.
    net::ReadableWait readable;
  };

  // wait_read: the read failed with EAGAIN; through `readable`.
  enum class Step { again, wait_read, wait_write, eof, error };

  void pump(Direction& d);
  Step step(Direction& d);
  Step step_splice(Direction& d);
  Step step_copy(Direction& d);
  Step after_write(Direction& d);
  void count_read(Direction& d, std::size_t n);
  void on_eof(Direction& d);
  void arm_idle_timer();
  // Bytes came from the client (written on, or still in flight).
  bool client_spoke() const { return up_.bytes > 0 || up_.pending > 0; }
  void finish(std::string_view outcome);
  void wait_write(Direction& d);
  static void on_readable(void* owner, net::ReadableWait& wait, const error_code& ec);

  Worker& worker_;
  tcp::socket client_;
  tcp::socket server_;
  asio::steady_timer idle_timer_;
  std::chrono::milliseconds idle_timeout_;
  Clock::time_point last_activity_;
  Clock::time_point first_from_server_{};  // the access log's first_byte_ms
  std::optional<Clock::time_point> first_byte_deadline_;
  Direction up_;    // client -> server
  Direction down_;  // server -> client
  bool finished_ = false;
};

}  // namespace sb::runtime
