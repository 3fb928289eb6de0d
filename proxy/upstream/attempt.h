#pragma once
// Presents one client (a connection, a request, a transaction, a call) to the
// servers of a pool until one accepts it (docs/architecture.md, "Retry the
// next server"): pick -> connect within connect-timeout -> PROXY header ->
// the protocol's AcceptStep -> an UpstreamStream.
//
// The caller owns the attempt, so that one mechanism serves every retry rule:
//   - before any byte (tcp, smtp passthrough): next() until it gives a stream;
//   - after the server was used (an idempotent HTTP request that failed
//     before its response, a replayed SMTP transaction, a SIP INVITE failed
//     over): failed(stream, kind) for the stream that let the client down,
//     then next() again.
// A server is presented to at most once per attempt, at most `retries`
// further servers in all. "Tried" is kept by server id, not by snapshot
// index: a publication (DNS discovery, a reload) may reorder the pool
// between two tries. Every failure counts toward the server's passive
// health (outlier ejection); local faults (no descriptor, no memory) count
// against no server and end the attempt.
//
// Worker thread only; one coroutine at a time per attempt.

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

#include "balancer/balancer.h"
#include "net/endpoint.h"
#include "proxy/asio.h"
#include "proxy/control/pool_registry.h"
#include "proxy/upstream/accept_step.h"
#include "proxy/worker/worker.h"

namespace sb::runtime {

// A server's connection that accepted the client, with what must stay alive
// while it is used: the snapshot its view lives in and the server's
// active-connection count. Plain TCP today; TLS to servers joins it.
struct UpstreamStream {
  tcp::socket socket;
  std::shared_ptr<const balancer::PoolSnapshot> snapshot;  // the one picked from
  balancer::ServerIndex server = 0;
  balancer::ActiveConnection active;  // holds the server's active count
  // The caller's idle connection to this server was chosen (ConnectionReuse):
  // `socket` is not open; the caller uses its own.
  bool reused = false;

  const balancer::ServerView& view() const { return snapshot->servers[server]; }
};

// A server picked without connecting to it (a datagram protocol: SIP over
// UDP), with the snapshot its view lives in.
struct PickedServer {
  std::shared_ptr<const balancer::PoolSnapshot> snapshot;
  balancer::ServerIndex server = 0;

  const balancer::ServerView& view() const { return snapshot->servers[server]; }
};

// An idle connection the caller keeps (the HTTP keep-alive pool): asked
// after each pick, before connecting. True: the caller has taken an open
// connection to `view`'s server, and next() gives a stream with `reused`.
class ConnectionReuse {
 public:
  virtual ~ConnectionReuse() = default;
  virtual bool reuse(const balancer::ServerView& view) = 0;
};

// Why next() gave no stream.
enum class AttemptEnd {
  none,         // a stream was given
  exhausted,    // no eligible server left untried, or `retries` used up
  pool_gone,    // a reload removed the pool
  local_fault,  // no descriptor or memory here: no server is to blame
};

class UpstreamAttempt {
 public:
  // At most 1 + retries servers; the configuration caps retries at 100.
  static constexpr std::size_t kMaxServers = 101;

  // `pool`: the settings the client started with (its listener holds them).
  // `hash_key`: an L7 affinity key for hashing algorithms (a cookie, a
  // Call-ID), when there is one.
  UpstreamAttempt(Worker& worker, const PoolRuntime& pool, const net::ClientEndpoints& endpoints,
                  std::optional<std::uint64_t> hash_key = std::nullopt);

  // The next server's stream that accepted, or nullopt (end() says why; the
  // pool's exhausted counter has been counted once).
  awaitable<std::optional<UpstreamStream>> next(AcceptStep* accept = nullptr,
                                                ConnectionReuse* reuse = nullptr);

  // The next server to present the client to, picked and counted as tried
  // but not connected to: for protocols that send without a connection.
  // nullopt as next() gives it (end() says why).
  std::optional<PickedServer> pick();
  // A server given by pick() (or next()) failed the client: counted against
  // it as `kind`.
  void failed(const balancer::ServerView& view, balancer::ConnectFailure kind);

  // Affinity (the HTTP cookie): the first pick is the server with this id
  // when it is eligible; else the pool's algorithm picks.
  void prefer(std::uint64_t server_id) { prefer_ = server_id; }
  // A failed connect ends the attempt instead of trying the next server
  // (HTTP `retry-on` without connect-failure); failed() and next() still
  // present the client to further servers.
  void no_connect_retries() { retry_connects_ = false; }

  // `stream`, given by next(), failed the client after it was handed out:
  // counted against its server as `kind`. Its server is not tried again.
  void failed(const UpstreamStream& stream, balancer::ConnectFailure kind);

  AttemptEnd end() const { return end_; }
  int tried() const { return static_cast<int>(tried_count_); }
  int retries() const { return tried_count_ > 0 ? static_cast<int>(tried_count_) - 1 : 0; }

 private:
  std::optional<PickedServer> pick_next();
  // Tried servers as indexes into `snapshot` (its current order).
  std::span<const balancer::ServerIndex> tried_in(const balancer::PoolSnapshot& snapshot);
  void count_failure(const balancer::ServerView& view, balancer::ConnectFailure kind);
  std::optional<balancer::Pick> preferred(const balancer::PoolSnapshot& snapshot);
  std::optional<UpstreamStream> give_up(AttemptEnd why);

  Worker& worker_;
  const PoolRuntime& pool_;
  const net::ClientEndpoints& endpoints_;
  net::IpAddress client_ip_;
  std::optional<std::uint64_t> hash_key_;
  std::optional<std::uint64_t> prefer_;
  bool retry_connects_ = true;
  std::size_t max_servers_;
  std::array<std::uint64_t, kMaxServers> tried_ids_{};
  std::array<balancer::ServerIndex, kMaxServers> tried_scratch_{};
  std::size_t tried_count_ = 0;
  AttemptEnd end_ = AttemptEnd::none;
};

}  // namespace sb::runtime
