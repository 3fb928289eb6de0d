// libFuzzer target for the http listener's routes
// (proxy/protocols/http/route_table.h): a table built from the first part of
// the input, matched against a host and a request target from the rest.
//
// Input: byte 0 is the number of rules (mod 9); the rest is split at '\n'
// into fields: a host and a path prefix for each rule, then the request's
// host, then its target (missing fields are empty).
//
// Properties checked on every input, beyond "no crash, no sanitizer report"
// (host and target are copied into buffers of their exact size, so a read
// past either end is an ASan report):
//  1. target_path is a part of the target (or "/" or "") and holds no '?'.
//  2. normalize_host is idempotent, and its result has no upper-case ASCII
//     letter, no trailing dot, and no colon outside brackets.
//  3. match() answers an index below size(), or nothing; the rule it names
//     matches by the rules written out plainly below (host exact or a
//     subdomain of a `*.` rule, after normalization; path prefix a
//     case-insensitive prefix of target_path ending on "/" or the path's end),
//     and no earlier rule does. Nothing answered: no rule matches.
// A violated property aborts, which libFuzzer reports as a crash with the input.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/protocols/http/route_table.h"

namespace {

using sb::runtime::http::normalize_host;
using sb::runtime::http::RouteRule;
using sb::runtime::http::RouteTable;
using sb::runtime::http::target_path;

void check(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "property violated: %s\n", what);
    std::abort();
  }
}

char ascii_lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c;
}

bool iequal(char a, char b) {
  return ascii_lower(a) == ascii_lower(b);
}

std::string strip_dots_lower(std::string_view s) {
  while (!s.empty() && s.back() == '.') s.remove_suffix(1);
  std::string out;
  for (char c : s) out.push_back(ascii_lower(c));
  return out;
}

// The rules of docs/configuration.md (`http.routes`), written out plainly.
bool host_matches(std::string_view rule_host, std::string_view normalized) {
  if (rule_host.empty()) return true;
  const std::string rule = strip_dots_lower(rule_host);
  if (rule.empty()) return false;  // dots only: no host
  if (rule.size() > 2 && rule[0] == '*' && rule[1] == '.') {
    const std::string_view domain = std::string_view(rule).substr(1);  // ".x.y"
    return normalized.size() > domain.size() &&
           normalized.substr(normalized.size() - domain.size()) == domain;
  }
  return normalized == rule;
}

bool prefix_matches(std::string_view prefix, std::string_view path) {
  while (!prefix.empty() && prefix.back() == '/') prefix.remove_suffix(1);
  if (prefix.empty()) return true;
  if (path.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (!iequal(path[i], prefix[i])) return false;
  }
  return path.size() == prefix.size() || path[prefix.size()] == '/';
}

// A copy of `s` in a buffer of exactly its size.
std::unique_ptr<char[]> exact_copy(std::string_view s) {
  auto p = std::make_unique<char[]>(s.size() + (s.empty() ? 1 : 0));
  for (std::size_t i = 0; i < s.size(); ++i) p[i] = s[i];
  return p;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t rule_count = data[0] % 9;
  std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  std::vector<std::string_view> fields;
  while (fields.size() < 2 * rule_count + 2) {
    const std::size_t nl = rest.find('\n');
    fields.push_back(rest.substr(0, nl));
    if (nl == std::string_view::npos) {
      rest = {};
      break;
    }
    rest.remove_prefix(nl + 1);
  }
  fields.resize(2 * rule_count + 2);
  // The target takes the rest of the input, newlines included.
  if (!rest.empty()) {
    fields.back() =
        std::string_view(fields.back().data(), rest.data() + rest.size() - fields.back().data());
  }

  std::vector<RouteRule> rules;
  for (std::size_t i = 0; i < rule_count; ++i) {
    rules.push_back({std::string(fields[2 * i]), std::string(fields[2 * i + 1])});
  }
  const auto host_buffer = exact_copy(fields[2 * rule_count]);
  const auto target_buffer = exact_copy(fields[2 * rule_count + 1]);
  const std::string_view host(host_buffer.get(), fields[2 * rule_count].size());
  const std::string_view target(target_buffer.get(), fields[2 * rule_count + 1].size());

  // 1. target_path.
  const std::string_view path = target_path(target);
  check(path.empty() || path == "/" ||
            (path.data() >= target.data() &&
             path.data() + path.size() <= target.data() + target.size()),
        "target_path lies within the target");
  check(path.find('?') == std::string_view::npos, "target_path holds no query");

  // 2. normalize_host.
  std::string once;
  std::string twice;
  normalize_host(host, once);
  normalize_host(once, twice);
  check(once == twice, "normalize_host is idempotent");
  check(once.size() <= host.size(), "normalize_host never grows a host");
  check(once.empty() || once.back() != '.', "a normalized host has no trailing dot");
  for (char c : once) check(!(c >= 'A' && c <= 'Z'), "a normalized host is lower case");
  if (once.empty() || once.front() != '[') {
    check(once.find(':') == std::string::npos, "a normalized name has no port");
  }

  // 3. match.
  const RouteTable table(rules);
  check(table.size() == rules.size(), "the table holds every rule");
  const auto matched = table.match(host, target);
  const std::size_t end = matched ? *matched : rules.size();
  check(end <= rules.size(), "match names a rule of the table");
  for (std::size_t i = 0; i < end; ++i) {
    check(!(host_matches(rules[i].host, once) && prefix_matches(rules[i].path_prefix, path)),
          "no earlier rule matches");
  }
  if (matched) {
    check(host_matches(rules[*matched].host, once), "the matched rule's host matches");
    check(prefix_matches(rules[*matched].path_prefix, path),
          "the matched rule's prefix is a case-insensitive prefix on a boundary");
  }
  return 0;
}
