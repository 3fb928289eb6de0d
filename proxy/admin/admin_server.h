#pragma once
// The admin HTTP server (Beast) on `admin.listen`, on the control-plane
// io_context: GET /healthz, GET /status, GET /pools/{pool}/pick, and POST
// /pools/{pool}/servers/{server}/drain|enable|disable (README.md "Admin API"). POSTs need
// "Authorization: Bearer <token>" when admin.token-file is set; GET
// /metrics, the status page GET /, and POST /reload.
//
// What one client can take is bounded (docs/configuration.md, "admin"): at
// most kMaxConnections open at once (more are closed at once), a request's
// headers and body (431, 413), the time to send a request and to read the
// answer; an accept that fails for want of descriptors pauses the loop.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "proxy/admin/admin_routes.h"
#include "proxy/asio.h"
#include "proxy/config/config.h"
#include "proxy/control/pool_control.h"

namespace sb::runtime {

class AdminServer {
 public:
  static constexpr std::size_t kMaxConnections = 64;
  static constexpr std::uint32_t kMaxHeaderBytes =
      16 * 1024;  // browsers send every cookie of 127.0.0.1
  static constexpr std::uint64_t kMaxBodyBytes = 64 * 1024;
  // From the moment a connection waits for a request to its last byte
  // (a slowloris client is closed), and to write one answer.
  static constexpr std::chrono::seconds kRequestTimeout{10};
  static constexpr std::chrono::seconds kResponseTimeout{30};

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
  // GET /status lists the listeners that `describe` returns (set before start).
  void set_listeners(std::function<boost::json::value()> describe) {
    listeners_ = std::move(describe);
  }

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
  std::function<boost::json::value()> listeners_;
  // Made once, at start: the process's start as /status reports it.
  std::chrono::system_clock::time_point started_ = std::chrono::system_clock::now();
  std::size_t open_ = 0;  // connections being served (control thread only)
  bool full_logged_ = false;
};

}  // namespace sb::runtime
