#include "proxy/protocols/http/route_table.h"

#include <algorithm>

namespace sb::runtime::http {
namespace {

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals_prefix(std::string_view text, std::string_view lower_prefix) {
  if (text.size() < lower_prefix.size()) return false;
  for (std::size_t i = 0; i < lower_prefix.size(); ++i) {
    if (lower(text[i]) != lower_prefix[i]) return false;
  }
  return true;
}

std::string lowered(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), lower);
  return out;
}

}  // namespace

void normalize_host(std::string_view host, std::string& out) {
  out.clear();
  if (!host.empty() && host.front() == '[') {
    // [v6]:port: keep the brackets, drop the port.
    const std::size_t close = host.find(']');
    if (close != std::string_view::npos) host = host.substr(0, close + 1);
  } else {
    // A name or IPv4 address holds no colon (RFC 3986 §3.2.2): the first
    // one starts the port. Cutting at the last one instead left "a:b" of
    // "a:b:1", which a second pass cut again.
    host = host.substr(0, host.find(':'));
  }
  // Every trailing dot, not one: "x.." once normalized must not still end
  // in one.
  while (!host.empty() && host.back() == '.') host.remove_suffix(1);
  out.reserve(host.size());
  for (char c : host) out.push_back(lower(c));
}

std::string_view target_path(std::string_view target) {
  if (target.empty()) return {};
  if (target.front() != '/') {
    // absolute form: scheme "://" authority path
    const std::size_t scheme_end = target.find("://");
    if (scheme_end == std::string_view::npos) return {};
    const std::size_t path = target.find_first_of("/?", scheme_end + 3);
    if (path == std::string_view::npos) return "/";
    target = target.substr(path);
    if (target.front() == '?') return "/";
  }
  const std::size_t query = target.find('?');
  return query == std::string_view::npos ? target : target.substr(0, query);
}

RouteTable::RouteTable(std::vector<RouteRule> rules) {
  rules_.reserve(rules.size());
  for (RouteRule& r : rules) {
    Rule rule;
    // Case and trailing dots as in normalize_host, but no port cut: a rule
    // host holding a colon ("::1") must match nothing, not, cut to "",
    // every host.
    std::string host = lowered(r.host);
    while (!host.empty() && host.back() == '.') host.pop_back();
    // Dots only name no host: left empty, the rule would match every host.
    if (host.empty() && !r.host.empty()) host.push_back('.');
    rule.wildcard = host.starts_with("*.");
    // "*.x.y" keeps ".x.y" ("*." alone is left "*", which names no host).
    rule.host = rule.wildcard ? host.substr(1) : host;
    rule.prefix = lowered(r.path_prefix);
    while (!rule.prefix.empty() && rule.prefix.back() == '/') rule.prefix.pop_back();
    rules_.push_back(std::move(rule));
  }
}

std::optional<std::size_t> RouteTable::match(std::string_view host, std::string_view target) const {
  thread_local std::string normalized;
  normalize_host(host, normalized);
  const std::string_view path = target_path(target);
  for (std::size_t i = 0; i < rules_.size(); ++i) {
    const Rule& r = rules_[i];
    if (!r.host.empty()) {
      if (r.wildcard) {
        // ".example.com": a subdomain, so at least one label before it.
        if (normalized.size() <= r.host.size() || !normalized.ends_with(r.host)) continue;
      } else if (normalized != r.host) {
        continue;
      }
    }
    if (!r.prefix.empty()) {
      // A prefix of "/" alone (stored empty) matches everything.
      if (!iequals_prefix(path, r.prefix)) continue;
      if (path.size() > r.prefix.size() && path[r.prefix.size()] != '/') continue;
    }
    return i;
  }
  return std::nullopt;
}

}  // namespace sb::runtime::http
