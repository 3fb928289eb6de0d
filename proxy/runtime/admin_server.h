#pragma once
// The admin HTTP server (Beast) on `admin.listen`, on the control-plane
// io_context. Today it answers GET /healthz; the rest of SPEC §6 (/metrics,
// /status, actions, reload) lands with the metrics/admin issue on this server.

#include <atomic>
#include <functional>

#include "proxy/config/config.h"
#include "proxy/runtime/asio.h"

namespace sb::runtime {

class AdminServer {
 public:
  // Binds at once; throws ListenError (listener.h) naming the address.
  AdminServer(asio::io_context& io, const config::AdminConfig& cfg,
              const std::atomic<bool>& shutting_down);
  void start();
  void stop();

 private:
  awaitable<void> accept_loop();
  awaitable<void> serve(tcp::socket socket);

  asio::io_context& io_;
  tcp::acceptor acceptor_;
  const std::atomic<bool>& shutting_down_;
};

}  // namespace sb::runtime
