#pragma once
// Request routing of the admin API, apart from the socket handling so that
// it reads as a table of endpoints.

#include <boost/beast/http.hpp>
#include <functional>
#include <string>

#include "proxy/runtime/pool_control.h"

namespace sb::runtime {

namespace http = boost::beast::http;
using AdminRequest = http::request<http::string_body>;
using AdminResponse = http::response<http::string_body>;

struct AdminContext {
  PoolControl& pools;
  const std::string& token;  // empty: no token needed
  bool shutting_down;
  // GET /metrics: the text exposition, made at the time of the request.
  const std::function<std::string()>& metrics;
};

AdminResponse handle_admin_request(const AdminRequest& req, const AdminContext& ctx);

// Percent-decoding for query values ("%3A" -> ":", "+" -> " ").
std::string url_decode(std::string_view s);

}  // namespace sb::runtime
