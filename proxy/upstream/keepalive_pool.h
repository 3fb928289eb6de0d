#pragma once
// Idle keep-alive connections to HTTP servers, per worker (docs/configuration.md,
// pool `keepalive:`): a request reuses an idle connection to the server it
// picked instead of connecting anew. A connection is only given back after
// a response that ended cleanly and kept it open, and only while fewer than
// `max-idle` of that server's are idle here; idle ones are closed after
// `idle-timeout`, or once the server closes them (checked once a second, and
// before reusing one that has been idle for a second or more).
//
// Worker thread only (its sockets belong to the worker's io_context).

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <unordered_map>

#include "net/stream.h"
#include "proxy/asio.h"

namespace sb::runtime {

class KeepalivePool {
 public:
  explicit KeepalivePool(asio::io_context& io) : sweep_(io) {}
  KeepalivePool(const KeepalivePool&) = delete;
  KeepalivePool& operator=(const KeepalivePool&) = delete;

  // Connections are kept by key: the server's id, mixed with the name a TLS
  // connection was made and verified for when that follows the request's
  // host (a connection is only reused for what it was made for).
  //
  // An idle connection under `key` that is still open, newest first;
  // nullopt when there is none. `always_check`: look whether the server
  // closed it even when it was given back within the last second (for a
  // request that cannot be sent again if it meets a closed connection).
  std::optional<net::Stream> take(std::uint64_t key, bool always_check = false);

  // Keeps `stream` for reuse, unless `max_idle` under its key are idle
  // already (then it is closed).
  void give_back(std::uint64_t key, net::Stream stream, int max_idle,
                 std::chrono::milliseconds idle_timeout);

  // Closes every idle connection (shutdown, worker stop).
  void clear();

  std::size_t idle() const { return idle_count_; }

 private:
  struct Idle {
    net::Stream stream;
    std::chrono::steady_clock::time_point since;  // given back
    std::chrono::steady_clock::time_point expires;
  };
  void schedule_sweep();
  void sweep();

  std::unordered_map<std::uint64_t, std::deque<Idle>> by_server_;
  std::size_t idle_count_ = 0;
  asio::steady_timer sweep_;
  bool sweep_scheduled_ = false;
};

// Whether an idle connection is still usable: nothing to read and not
// closed by its peer (a non-blocking MSG_PEEK). Data waiting on an idle
// HTTP connection is a protocol error or a TLS alert: not usable either.
bool idle_connection_usable(net::Stream& stream);

}  // namespace sb::runtime
