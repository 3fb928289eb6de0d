#pragma once
// The admin HTTP server (Beast) on `admin.listen`, on the control-plane
// io_context: GET /healthz, GET /status, GET /pools/{pool}/pick, and POST
// /pools/{pool}/servers/{server}/drain|enable|disable (README.md "Admin API"). POSTs need
// "Authorization: Bearer <token>" when admin.token-file is set; GET
// /metrics, the status page GET /, and POST /reload.

#include <atomic>
#include <functional>
#include <string>

#include "proxy/admin/admin_routes.h"
#include "proxy/asio.h"
#include "proxy/config/config.h"
#include "proxy/control/pool_control.h"

namespace sb::runtime {

class AdminServer {
 public:
  // Binds at once and reads the token file; throws ListenError (listener.h)
  // naming the address or the file.
  AdminServer(asio::io_context& io, const config::AdminConfig& cfg,
              const std::atomic<bool>& shutting_down, PoolControl& pools);
  void start();
  void stop();
  // Serves GET /metrics with what `render` returns (set before start).
  void set_metrics(std::function<std::string()> render) { metrics_ = std::move(render); }
  // Serves POST /reload with `reload` (set before start).
  void set_reload(std::function<ReloadOutcome()> reload) { reload_ = std::move(reload); }
  // GET /healthz fails with what `problem` returns when it is not empty (a
  // dead or stuck worker); set before start.
  void set_liveness(std::function<std::string()> problem) { liveness_ = std::move(problem); }

  // The token in admin.token-file `path` (surrounding whitespace removed);
  // empty for no file. Throws ListenError naming the file when it cannot be
  // read or holds no token. A reload reads it again (control thread).
  static std::string read_token(const std::string& path);
  void set_token(std::string token) { token_ = std::move(token); }

 private:
  awaitable<void> accept_loop();
  awaitable<void> serve(tcp::socket socket);

  asio::io_context& io_;
  tcp::acceptor acceptor_;
  const std::atomic<bool>& shutting_down_;
  PoolControl& pools_;
  std::string token_;  // empty: POSTs need none
  std::function<std::string()> metrics_;
  std::function<ReloadOutcome()> reload_;
  std::function<std::string()> liveness_;
};

}  // namespace sb::runtime
