#include "proxy/protocols/http/header_rules.h"

#include <fmt/format.h>

#include <array>
#include <boost/beast/http/field.hpp>

namespace sb::runtime::http {
namespace {

namespace bhttp = boost::beast::http;

// Beast 1.81 has no field enumerator for it.
constexpr std::string_view kXForwardedFor = "X-Forwarded-For";

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Calls f(token) for each comma-separated token of `list`, trimmed.
template <class F>
void for_each_token(std::string_view list, F&& f) {
  while (!list.empty()) {
    const std::size_t comma = list.find(',');
    const std::string_view token = trim(list.substr(0, comma));
    if (!token.empty()) f(token);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
}

// The auth-scheme of an Authorization or WWW-Authenticate value.
std::string_view scheme_of(std::string_view value) {
  value = trim(value);
  return value.substr(0, value.find_first_of(" \t,"));
}

bool is_connection_scheme(std::string_view scheme) {
  return iequals(scheme, "NTLM") || iequals(scheme, "Negotiate");
}

std::uint64_t fnv1a(std::string_view a, std::string_view b) {
  std::uint64_t h = 14695981039346656037ull;
  auto mix = [&h](std::string_view s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ull;
    }
  };
  mix(a);
  mix(std::string_view("\0", 1));
  mix(b);
  return h;
}

// Sets `name` to one line: the values of all its lines so far, in order,
// then `element`. Several lines of one name are one comma-separated list
// (RFC 9110 §5.3), so each line an earlier proxy wrote is kept.
void append_to_list(Fields& fields, std::string_view name, std::string_view element) {
  std::string joined;
  for (const auto& field : fields) {
    if (!iequals(field.name_string(), name)) continue;
    const std::string_view value = trim(field.value());
    if (value.empty()) continue;
    joined.append(value);
    joined.append(", ");
  }
  joined.append(element);
  fields.set(name, joined);
}

}  // namespace

bool remove_hop_by_hop(Fields& fields, std::string* upgrade) {
  // Each header Connection names is erased as its name is read: the value
  // being read lives in the Connection field itself, which stays until the
  // end, so erasing other fields leaves it and the iterator intact. No list
  // of names is kept, so every named header goes however many there are.
  bool asks_upgrade = false;
  for (const auto name : {bhttp::field::connection, bhttp::field::proxy_connection}) {
    for (auto it = fields.find(name); it != fields.end() && it->name() == name; ++it) {
      for_each_token(it->value(), [&](std::string_view token) {
        if (iequals(token, "upgrade")) {
          // The Upgrade header itself: read below, erased at the end.
          asks_upgrade = true;
          return;
        }
        // Never let Connection strip what the proxy must frame or route
        // on; Connection and Proxy-Connection themselves go at the end.
        if (iequals(token, "host") || iequals(token, "content-length") ||
            iequals(token, "connection") || iequals(token, "proxy-connection")) {
          return;
        }
        fields.erase(token);
      });
    }
  }
  asks_upgrade = asks_upgrade && fields.count(bhttp::field::upgrade) > 0;
  if (asks_upgrade && upgrade) upgrade->assign(fields[bhttp::field::upgrade]);
  for (const auto name :
       {bhttp::field::connection, bhttp::field::proxy_connection, bhttp::field::keep_alive,
        bhttp::field::te, bhttp::field::transfer_encoding, bhttp::field::upgrade}) {
    fields.erase(name);
  }
  return asks_upgrade;
}

void add_forwarded(Fields& fields, const ForwardedFor& f) {
  // X-Forwarded-For: appended to what earlier proxies wrote.
  append_to_list(fields, kXForwardedFor, f.client_ip);
  fields.set("X-Forwarded-Proto", f.proto);
  if (!f.host.empty()) {
    fields.set("X-Forwarded-Host", f.host);
  }
  // RFC 7239: an IPv6 node is quoted and bracketed; a host with characters
  // outside a token is quoted.
  std::string element =
      f.ipv6 ? fmt::format("for=\"[{}]\"", f.client_ip) : fmt::format("for={}", f.client_ip);
  element += fmt::format(";proto={}", f.proto);
  if (!f.host.empty()) {
    std::string quoted;
    for (char c : f.host) {
      if (c == '"' || c == '\\') quoted.push_back('\\');
      quoted.push_back(c);
    }
    element += fmt::format(";host=\"{}\"", quoted);
  }
  append_to_list(fields, "Forwarded", element);
}

bool is_connection_auth(std::string_view authorization) {
  return is_connection_scheme(scheme_of(authorization));
}

bool demands_connection_auth(const Fields& response) {
  for (auto it = response.find(bhttp::field::www_authenticate);
       it != response.end() && it->name() == bhttp::field::www_authenticate; ++it) {
    // One header may list several challenges ("Negotiate, NTLM"); a scheme
    // is a token at the start of the value or after a comma.
    bool found = false;
    for_each_token(it->value(), [&](std::string_view token) {
      if (is_connection_scheme(scheme_of(token))) found = true;
    });
    if (found) return true;
  }
  return false;
}

std::optional<std::string_view> find_cookie(const Fields& request, std::string_view name) {
  for (auto it = request.find(bhttp::field::cookie);
       it != request.end() && it->name() == bhttp::field::cookie; ++it) {
    std::string_view list = it->value();
    while (!list.empty()) {
      const std::size_t semi = list.find(';');
      std::string_view pair = trim(list.substr(0, semi));
      const std::size_t eq = pair.find('=');
      if (eq != std::string_view::npos && trim(pair.substr(0, eq)) == name) {
        std::string_view value = trim(pair.substr(eq + 1));
        if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
          value = value.substr(1, value.size() - 2);
        }
        return value;
      }
      if (semi == std::string_view::npos) break;
      list.remove_prefix(semi + 1);
    }
  }
  return std::nullopt;
}

std::string affinity_cookie(std::string_view name, std::string_view value, bool secure,
                            std::chrono::seconds max_age) {
  std::string cookie = fmt::format("{}={}; Path=/; HttpOnly", name, value);
  if (secure) cookie += "; Secure";
  if (max_age.count() > 0) cookie += fmt::format("; Max-Age={}", max_age.count());
  return cookie;
}

std::uint64_t server_token_value(std::string_view pool, std::string_view server_name) {
  return fnv1a(pool, server_name);
}

std::string server_token(std::string_view pool, std::string_view server_name) {
  return fmt::format("{:016x}", server_token_value(pool, server_name));
}

std::optional<std::uint64_t> parse_server_token(std::string_view token) {
  if (token.size() != 16) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : token) {
    int d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else {
      return std::nullopt;
    }
    v = v << 4 | static_cast<std::uint64_t>(d);
  }
  return v;
}

}  // namespace sb::runtime::http
