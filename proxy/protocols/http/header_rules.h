#pragma once
// What the http listener changes in the headers it passes on
// (docs/configuration.md, `http:`), as pure functions over Beast's field
// containers: no sockets; fuzzed.
//
//   - hop-by-hop headers are removed (RFC 9110 §7.6.1): Connection and every
//     header it names, Proxy-Connection, Keep-Alive, TE, Transfer-Encoding,
//     Upgrade (the proxy frames each hop itself and re-adds Upgrade to a
//     request that asks for one);
//   - forwarded headers: X-Forwarded-For gets the client appended,
//     X-Forwarded-Proto and X-Forwarded-Host are set, Forwarded (RFC 7239)
//     gets an element appended;
//   - connection-oriented authentication (NTLM, Negotiate) is recognised in
//     Authorization and WWW-Authenticate;
//   - the affinity cookie is found in Cookie and written for Set-Cookie.

#include <boost/beast/http/fields.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sb::runtime::http {

using Fields = boost::beast::http::fields;

// Removes the hop-by-hop headers. Returns whether the message asked for an
// upgrade (Connection: upgrade with an Upgrade header), and then stores the
// Upgrade header's value in `upgrade` (bounded by the header size limit).
bool remove_hop_by_hop(Fields& fields, std::string* upgrade = nullptr);

struct ForwardedFor {
  std::string_view client_ip;  // "192.0.2.1" or "2001:db8::1" (no brackets)
  bool ipv6 = false;
  std::string_view proto;  // "http" | "https"
  std::string_view host;   // the request's Host as received; empty: none
};
void add_forwarded(Fields& fields, const ForwardedFor& f);

// Whether an Authorization value starts a connection-oriented
// authentication (scheme NTLM or Negotiate, any case).
bool is_connection_auth(std::string_view authorization);
// Whether any WWW-Authenticate header of a response offers NTLM or
// Negotiate.
bool demands_connection_auth(const Fields& response);

// The value of cookie `name` in the request's Cookie headers, if present.
std::optional<std::string_view> find_cookie(const Fields& request, std::string_view name);
// The Set-Cookie value for the affinity cookie: HttpOnly, Secure on TLS,
// Max-Age when `max_age` is not zero (zero: a session cookie), Path=/.
std::string affinity_cookie(std::string_view name, std::string_view value, bool secure,
                            std::chrono::seconds max_age);

// The opaque value that names a server in the affinity cookie: 16 hex
// digits of a hash of the pool's and the server's names, the same in every
// switchboard process and across restarts, and saying nothing of the
// server's address.
std::string server_token(std::string_view pool, std::string_view server_name);
// Parses a token back to its number; nullopt when it is not 16 hex digits.
std::optional<std::uint64_t> parse_server_token(std::string_view token);
std::uint64_t server_token_value(std::string_view pool, std::string_view server_name);

}  // namespace sb::runtime::http
