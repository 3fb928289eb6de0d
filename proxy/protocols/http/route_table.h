#pragma once
// The routes of an http listener (docs/configuration.md, `http.routes`):
// which pool a request goes to, from its host and path. Pure: no sockets,
// no configuration types beyond the routes themselves; fuzzed.
//
//   host:        exact (ASCII case ignored, port and a trailing dot
//                stripped), or `*.example.com`: any subdomain of
//                example.com, not example.com itself;
//   path-prefix: the path itself or the path followed by "/" or "?",
//                ASCII case ignored (IIS and Exchange paths are
//                case-insensitive): /owa matches /OWA/ and /owa?x, not
//                /owacompat;
//   first match wins; none matching: no route (404).

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sb::runtime::http {

struct RouteRule {
  std::string host;         // empty: any host; "*.x.y": subdomains of x.y
  std::string path_prefix;  // empty: any path
};

class RouteTable {
 public:
  explicit RouteTable(std::vector<RouteRule> rules);

  // The index of the first matching rule, or nullopt. `host`: the Host
  // header or :authority as received; `target`: the request target as
  // received (origin form "/p?q", absolute form "http://h/p", or "*").
  std::optional<std::size_t> match(std::string_view host, std::string_view target) const;

  std::size_t size() const { return rules_.size(); }

 private:
  struct Rule {
    std::string host;    // lower case, no trailing dot
    bool wildcard;       // host was "*.": `host` holds ".x.y"
    std::string prefix;  // lower case, no trailing "/"
  };
  std::vector<Rule> rules_;
};

// The host a request names, for matching: lower case, without port and
// trailing dot, IPv6 brackets kept ("[::1]"). Writes into `out` (no
// allocation once it has grown).
void normalize_host(std::string_view host, std::string& out);

// The path part of a request target (origin or absolute form), without the
// query; "" for "*" or a target that is neither.
std::string_view target_path(std::string_view target);

}  // namespace sb::runtime::http
