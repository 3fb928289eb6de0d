#pragma once
// Presents a connection to servers of a pool until one accepts it
// (ARCHITECTURE.md §2 steps 4-5, SPEC §4 "Retry the next server"):
// pick -> connect within connect-timeout -> optional PROXY header -> done.
// A server that refuses, times out or resets is reported (its failure
// counters; passive health once it exists), added to "tried", and the next
// pick excludes it — at most `retries` further servers, each at most once.
//
// Nothing of the client's has been sent to a server that failed, so a retry
// is always safe. Protocols that must see the server accept first (SMTP's 220
// banner) pass an AcceptStep; L4 TCP needs none.
// Runs on the worker thread.

#include <optional>
#include <string>

#include "balancer/balancer.h"
#include "proxy/net/cidr.h"
#include "proxy/runtime/asio.h"
#include "proxy/runtime/worker.h"

namespace sb::runtime {

struct ClientEndpoints {
  tcp::endpoint client;  // the real client (from a PROXY header when accepted)
  tcp::endpoint local;   // the address the client connected to
};

struct UpstreamConnection {
  tcp::socket socket;
  std::shared_ptr<const balancer::PoolSnapshot> snapshot;  // the one picked from
  balancer::ServerIndex server = 0;
  balancer::ActiveConnection active;  // holds the server's active count

  const balancer::ServerView& view() const { return snapshot->servers[server]; }
};

struct ConnectOutcome {
  std::optional<UpstreamConnection> connection;  // empty: no server accepted
  int retries = 0;                               // further servers presented to
  int tried = 0;                                 // servers presented to in all
};

// What a protocol must see from a connected server before the connection
// counts as accepted (SMTP: a 220 greeting). On failure the step has said
// goodbye if the protocol has a way to (QUIT); the connector closes, counts
// the failure against the server and presents the client to the next one.
class AcceptStep {
 public:
  virtual ~AcceptStep() = default;
  // nullopt: accepted.
  virtual awaitable<std::optional<balancer::ConnectFailure>> accept(
      tcp::socket& server, const balancer::ServerView& view) = 0;
};

// `pool`: the settings the connection started with (its listener holds them).
awaitable<ConnectOutcome> connect_upstream(Worker& worker, const PoolRuntime& pool,
                                           const ClientEndpoints& endpoints,
                                           AcceptStep* accept = nullptr);

}  // namespace sb::runtime
