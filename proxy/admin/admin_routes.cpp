#include "proxy/admin/admin_routes.h"

#include "net/codec/escape.h"
#include "proxy/admin/status_page.h"

#include <openssl/crypto.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/json/serialize.hpp>
#include <cctype>
#include <chrono>
#include <optional>
#include <vector>

namespace sb::runtime {
namespace {

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> parts;
  while (!path.empty()) {
    if (path.front() == '/') {
      path.remove_prefix(1);
      continue;
    }
    const auto end = path.find('/');
    parts.push_back(path.substr(0, end));
    path = end == std::string_view::npos ? std::string_view{} : path.substr(end);
  }
  return parts;
}

std::optional<std::string> query_param(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    const auto eq = pair.find('=');
    if (pair.substr(0, eq) == name) {
      return url_decode(eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1));
    }
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
  }
  return std::nullopt;
}

// Error messages quote what the client sent (a percent-decoded pool name
// may hold any byte) or what a file held: escaped, so that the answer stays
// valid JSON (net/codec/escape.h).
std::string json_error(std::string_view message) {
  return boost::json::serialize(boost::json::object{{"error", net::escape_bytes(message)}});
}

AdminResponse reply(const AdminRequest& req, http::status status, std::string body,
                    std::string_view type = "application/json") {
  AdminResponse res{status, req.version()};
  res.set(http::field::server, "switchboard");
  res.set(http::field::content_type, type);
  res.keep_alive(req.keep_alive());
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

AdminResponse not_allowed(const AdminRequest& req, std::string_view allow) {
  auto res = reply(req, http::status::method_not_allowed, json_error("method not allowed"));
  res.set(http::field::allow, allow);
  return res;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

std::string_view header(const AdminRequest& req, http::field f) {
  const auto it = req.find(f);
  return it == req.end() ? std::string_view{}
                         : std::string_view(it->value().data(), it->value().size());
}

// "Authorization: Bearer <token>": the scheme in any case (RFC 7235), the
// token compared in constant time, so that the time an answer takes says
// nothing about how much of a guess was right.
bool authorized(const AdminRequest& req, const std::string& token) {
  if (token.empty()) return true;
  const std::string_view value = header(req, http::field::authorization);
  constexpr std::string_view kBearer = "bearer ";
  if (value.size() != kBearer.size() + token.size() ||
      !iequals(value.substr(0, kBearer.size()), kBearer)) {
    return false;
  }
  return CRYPTO_memcmp(value.data() + kBearer.size(), token.data(), token.size()) == 0;
}

// Whether a request that changes something comes from the admin's own pages
// (or from no page at all: curl and scripts send no Origin). Any page open
// in the operator's browser can send a POST here; the browser says which
// page it came from, and a page of another origin is refused whatever
// token it carries (a cross-site request forgery).
bool from_own_origin(const AdminRequest& req) {
  const std::string_view fetch_site = header(req, http::field::sec_fetch_site);
  if (!fetch_site.empty() && !iequals(fetch_site, "same-origin") && !iequals(fetch_site, "none")) {
    return false;
  }
  const auto origin = req.find(http::field::origin);
  if (origin == req.end()) return true;
  const std::string_view host = header(req, http::field::host);
  if (host.empty()) return false;
  const std::string own = "http://" + std::string(host);
  return iequals(std::string_view(origin->value().data(), origin->value().size()), own);
}

AdminResponse unauthorized(const AdminRequest& req) {
  auto res = reply(req, http::status::unauthorized, json_error("a bearer token is required"));
  res.set(http::field::www_authenticate, "Bearer");
  return res;
}

// The node's host name, for an operator who watches several nodes' pages
// (docs/high-availability.md): read at each request, as it may change.
std::string node_name() {
  std::array<char, 256> buf{};
  if (::gethostname(buf.data(), buf.size() - 1) != 0) return {};
  return net::escape_bytes(buf.data());
}

// GET /status: the pools and servers (PoolControl::status), with which node
// answers, since when, and its listeners (README.md "Admin API").
boost::json::value status_json(const AdminContext& ctx) {
  boost::json::value status = ctx.pools.status();
  auto& root = status.as_object();
  root["node"] = node_name();
  const auto started = std::chrono::floor<std::chrono::seconds>(ctx.started);
  root["started"] = started.time_since_epoch().count();
  root["uptime_seconds"] =
      std::max<std::int64_t>(0, std::chrono::duration_cast<std::chrono::seconds>(
                                    std::chrono::system_clock::now() - ctx.started)
                                    .count());
  root["listeners"] = ctx.listeners ? ctx.listeners() : boost::json::value(boost::json::array{});
  return status;
}

}  // namespace

std::string url_decode(std::string_view s) {
  const auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out.push_back(' ');
    } else if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);  // a stray '%' stays as it is
    }
  }
  return out;
}

AdminResponse handle_admin_request(const AdminRequest& req, const AdminContext& ctx) {
  const std::string_view target(req.target().data(), req.target().size());
  const auto qmark = target.find('?');
  const std::string_view path = target.substr(0, qmark);
  const std::string_view query =
      qmark == std::string_view::npos ? std::string_view{} : target.substr(qmark + 1);
  const auto parts = split_path(path);
  const bool get = req.method() == http::verb::get || req.method() == http::verb::head;
  const bool post = req.method() == http::verb::post;
  if (!get && !from_own_origin(req)) {
    return reply(req, http::status::forbidden,
                 json_error("refused: the request comes from another web page (Origin)"));
  }

  if (parts.size() == 1 && parts[0] == "healthz") {
    if (!get) return not_allowed(req, "GET, HEAD");
    if (ctx.shutting_down) {
      return reply(req, http::status::service_unavailable, "shutting down\n", "text/plain");
    }
    // A dead or stuck worker still holds its share of the listening
    // sockets: whoever balances onto this node must hear of it.
    if (const std::string problem = ctx.liveness ? ctx.liveness() : std::string();
        !problem.empty()) {
      return reply(req, http::status::service_unavailable, problem + "\n", "text/plain");
    }
    return reply(req, http::status::ok, "ok\n", "text/plain");
  }
  if (parts.empty()) {
    if (!get) return not_allowed(req, "GET, HEAD");
    auto page =
        reply(req, http::status::ok, std::string(status_page_html()), "text/html; charset=utf-8");
    // Its buttons act: no other site may frame it and lure a click.
    page.set("Content-Security-Policy", "frame-ancestors 'none'");
    page.set(http::field::x_frame_options, "DENY");
    return page;
  }
  if (parts.size() == 1 && parts[0] == "metrics") {
    if (!get) return not_allowed(req, "GET, HEAD");
    return reply(req, http::status::ok, ctx.metrics ? ctx.metrics() : std::string(),
                 "text/plain; version=0.0.4; charset=utf-8");
  }
  if (parts.size() == 1 && parts[0] == "status") {
    if (!get) return not_allowed(req, "GET, HEAD");
    return reply(req, http::status::ok, boost::json::serialize(status_json(ctx)));
  }
  if (parts.size() == 3 && parts[0] == "pools" && parts[2] == "pick") {
    if (!get) return not_allowed(req, "GET, HEAD");
    const auto client = query_param(query, "client");
    if (!client) return reply(req, http::status::bad_request, json_error("client=IP is required"));
    const auto key = query_param(query, "key");
    const auto pool = url_decode(parts[1]);
    const auto r = ctx.pools.dry_run(pool, *client,
                                     key ? std::optional<std::string_view>(*key) : std::nullopt);
    if (r.lookup == PoolControl::Lookup::no_pool) {
      return reply(req, http::status::not_found, json_error("unknown pool \"" + pool + "\""));
    }
    if (!r.error.empty()) return reply(req, http::status::bad_request, json_error(r.error));
    return reply(req, http::status::ok, boost::json::serialize(r.body));
  }
  if (parts.size() == 1 && parts[0] == "reload") {
    if (!post) return not_allowed(req, "POST");
    if (!authorized(req, ctx.token)) return unauthorized(req);
    if (!ctx.reload) {
      return reply(req, http::status::service_unavailable, json_error("reload is not available"));
    }
    const ReloadOutcome r = ctx.reload();
    if (!r.ok) {
      boost::json::array errors;
      for (const auto& e : r.errors) errors.emplace_back(net::escape_bytes(e));
      return reply(req, http::status::bad_request,
                   boost::json::serialize(boost::json::object{
                       {"error", "configuration refused; the running configuration stays"},
                       {"errors", std::move(errors)}}));
    }
    return reply(req, http::status::ok, boost::json::serialize(r.summary));
  }
  if (parts.size() == 5 && parts[0] == "pools" && parts[2] == "servers" &&
      (parts[4] == "drain" || parts[4] == "enable" || parts[4] == "disable")) {
    if (!post) return not_allowed(req, "POST");
    if (!authorized(req, ctx.token)) return unauthorized(req);
    const auto state = parts[4] == "drain"    ? balancer::AdminState::drain
                       : parts[4] == "enable" ? balancer::AdminState::enabled
                                              : balancer::AdminState::disabled;
    const auto pool = url_decode(parts[1]);
    const auto server = url_decode(parts[3]);
    const auto r = ctx.pools.set_admin_state(pool, server, state);
    if (r.lookup == PoolControl::Lookup::no_pool) {
      return reply(req, http::status::not_found, json_error("unknown pool \"" + pool + "\""));
    }
    if (r.lookup == PoolControl::Lookup::no_server) {
      return reply(req, http::status::not_found,
                   json_error("unknown server \"" + server + "\" in pool \"" + pool + "\""));
    }
    return reply(req, http::status::ok, boost::json::serialize(r.server));
  }
  return reply(req, http::status::not_found, json_error("not found"));
}

}  // namespace sb::runtime
