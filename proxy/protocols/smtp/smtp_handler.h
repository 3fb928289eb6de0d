#pragma once
// `protocol: smtp`, passthrough mode: a server accepts a connection with its
// 220 greeting within banner-timeout (SmtpGreeting); the client sees exactly
// one greeting, and 421 when no server greeted. The server speaks first, so
// the client has no first-byte deadline (idle-timeout applies).

#include <chrono>
#include <memory>

#include "proxy/control/pool_registry.h"
#include "proxy/protocols/protocol_handler.h"

namespace sb::runtime {

class SmtpPassthroughHandler final : public ProtocolHandler {
 public:
  SmtpPassthroughHandler(std::shared_ptr<const PoolRuntime> pool,
                         std::chrono::milliseconds banner_timeout)
      : pool_(std::move(pool)), banner_timeout_(banner_timeout) {}

  FrontPolicy front_policy() const override;
  awaitable<void> serve(Worker& worker, AdmittedClient client) override;

 private:
  std::shared_ptr<const PoolRuntime> pool_;
  std::chrono::milliseconds banner_timeout_;
};

}  // namespace sb::runtime
