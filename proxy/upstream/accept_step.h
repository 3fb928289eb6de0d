#pragma once
// What a protocol must see from a connected server before the connection
// counts as accepted (SMTP: a 220 greeting). On failure the step has said
// goodbye if the protocol has a way to (QUIT); the attempt closes the
// connection, counts the failure against the server and presents the client
// to the next one. L4 TCP needs no step: the handshake is the acceptance.

#include <optional>
#include <string_view>

#include "balancer/pool_snapshot.h"
#include "balancer/server_stats.h"
#include "proxy/asio.h"

namespace sb::runtime {

class AcceptStep {
 public:
  virtual ~AcceptStep() = default;
  // nullopt: accepted.
  virtual awaitable<std::optional<balancer::ConnectFailure>> accept(
      tcp::socket& server, const balancer::ServerView& view) = 0;
  // What the accepted server sent during the step that the client is owed
  // (SMTP: the greeting, byte for byte); empty by default.
  virtual std::string_view owed_to_client() const { return {}; }
};

}  // namespace sb::runtime
