#pragma once
// `protocol: tcp`: the L4 proxy. The server accepts with its handshake; the
// client must send its first byte within client-first-byte-timeout.

#include <memory>

#include "proxy/control/pool_registry.h"
#include "proxy/protocols/protocol_handler.h"

namespace sb::runtime {

class TcpHandler final : public ProtocolHandler {
 public:
  explicit TcpHandler(std::shared_ptr<const PoolRuntime> pool) : pool_(std::move(pool)) {}

  FrontPolicy front_policy() const override;
  awaitable<void> serve(Worker& worker, AdmittedClient client) override;

 private:
  std::shared_ptr<const PoolRuntime> pool_;
};

}  // namespace sb::runtime
