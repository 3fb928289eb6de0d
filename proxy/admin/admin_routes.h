#pragma once
// Request routing of the admin API, apart from the socket handling so that
// it reads as a table of endpoints.

#include <boost/beast/http.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "proxy/control/pool_control.h"

namespace sb::runtime {

namespace http = boost::beast::http;
using AdminRequest = http::request<http::string_body>;
using AdminResponse = http::response<http::string_body>;

// What POST /reload and SIGHUP get from the runtime.
struct ReloadOutcome {
  bool ok = false;
  std::vector<std::string> errors;  // FILE:LINE:COL: message, when refused
  boost::json::value summary;       // what changed, when applied
};

struct AdminContext {
  PoolControl& pools;
  const std::string& token;  // empty: no token needed
  bool shutting_down;
  // GET /metrics: the text exposition, made at the time of the request.
  const std::function<std::string()>& metrics;
  // POST /reload: reads the configuration file again and applies it.
  const std::function<ReloadOutcome()>& reload;
  // GET /healthz: empty while every worker runs, else what is wrong.
  const std::function<std::string()>& liveness;
  // GET /status "listeners": each listener's live connections against its
  // max-connections (unset: an empty list).
  const std::function<boost::json::value()>& listeners;
  // When this switchboard started (GET /status "started", "uptime_seconds").
  std::chrono::system_clock::time_point started;
};

AdminResponse handle_admin_request(const AdminRequest& req, const AdminContext& ctx);

// Percent-decoding for query values ("%3A" -> ":", "+" -> " ").
std::string url_decode(std::string_view s);

}  // namespace sb::runtime
