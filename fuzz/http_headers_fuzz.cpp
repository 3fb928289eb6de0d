// libFuzzer target for what the http listener does to a request's head
// (proxy/protocols/http/header_rules.h, h1_wire.h): the input is parsed as
// an HTTP/1.1 request head with Beast's parser (64 KiB header limit, as
// `max-header-size` allows by default), then the head goes through the same
// steps as in the listener: hop-by-hop headers removed, forwarded headers
// added, the head written for the server.
//
// Properties checked on every head Beast accepts, beyond "no crash, no
// sanitizer report":
//  1. After remove_hop_by_hop no hop-by-hop header is left: none of
//     Connection, Proxy-Connection, Keep-Alive, TE, Transfer-Encoding,
//     Upgrade, nor any header Connection named (Host and Content-Length
//     excepted); an upgrade is reported exactly when Connection named
//     "upgrade" and an Upgrade header came, with that header's value.
//  2. add_forwarded leaves one X-Forwarded-For: the values of every earlier
//     line, in order, then the client address; and one Forwarded: the same
//     with the client's element (RFC 7239, host quoted).
//  3. find_cookie's value lies within a Cookie header's value.
//  4. The head written for the server parses back with Beast, wholly (its
//     first blank line is its end), into the same method, target and
//     fields, framed as the original was (Content-Length, chunked or none,
//     never both), with Connection: upgrade and the Upgrade value exactly
//     when an upgrade was asked for; every line ends in CRLF and no field
//     holds a CR or LF.
//  5. The same fields written as a response head parse back the same.
// A violated property aborts, which libFuzzer reports as a crash with the input.

#include <boost/asio/buffer.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "proxy/protocols/http/h1_wire.h"
#include "proxy/protocols/http/header_rules.h"

namespace {

namespace bhttp = boost::beast::http;
using sb::runtime::http::Fields;
using sb::runtime::http::Framing;

void check(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "property violated: %s\n", what);
    std::abort();
  }
}

bool iequals(std::string_view a, std::string_view b) {
  return boost::beast::iequals(a, b);
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The comma-separated tokens of every `name` header.
std::vector<std::string> tokens_of(const Fields& fields, bhttp::field name) {
  std::vector<std::string> out;
  for (const auto& f : fields) {
    if (f.name() != name) continue;
    std::string_view list = f.value();
    while (true) {
      const std::size_t comma = list.find(',');
      const std::string_view token = trim(list.substr(0, comma));
      if (!token.empty()) out.emplace_back(token);
      if (comma == std::string_view::npos) break;
      list.remove_prefix(comma + 1);
    }
  }
  return out;
}

bool lines_end_in_crlf(std::string_view s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\r' && (i + 1 == s.size() || s[i + 1] != '\n')) return false;
    if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r')) return false;
  }
  return true;
}

using FieldList = std::vector<std::pair<std::string, std::string>>;

FieldList list_of(const Fields& fields) {
  FieldList out;
  for (const auto& f : fields) out.emplace_back(f.name_string(), f.value());
  return out;
}

// Parses a head written by h1_wire.h: all of it, nothing left over.
template <class Parser>
void parse_written(Parser& p, const std::string& head) {
  p.header_limit(1024 * 1024);
  boost::beast::error_code ec;
  const std::size_t n = p.put(boost::asio::buffer(head), ec);
  check(!ec, "the written head parses");
  check(p.is_header_done(), "the written head is complete");
  check(n == head.size(), "the written head ends at its first blank line");
  check(lines_end_in_crlf(head), "every line of the written head ends in CRLF");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  bhttp::request_parser<bhttp::empty_body> parser;
  parser.header_limit(64 * 1024);
  parser.body_limit(boost::none);
  boost::beast::error_code ec;
  parser.put(boost::asio::buffer(data, size), ec);
  if (ec || !parser.is_header_done()) return 0;

  auto& req = parser.get();
  const std::string method(req.method_string());
  const std::string target(req.target());
  const std::string host(req[bhttp::field::host]);
  const bool chunked = parser.chunked();
  const auto content_length = parser.content_length();
  const Framing framing = chunked                      ? Framing::chunked
                          : content_length.value_or(0) ? Framing::length
                                                       : Framing::none;
  for (const auto& f : req) {
    check(f.name_string().find_first_of("\r\n") == std::string_view::npos &&
              f.value().find_first_of("\r\n") == std::string_view::npos,
          "a parsed field holds no CR or LF");
  }

  // 3. Cookies, and the connection-oriented authentication checks.
  if (const auto cookie = sb::runtime::http::find_cookie(req, "SWBSRV")) {
    bool inside = false;
    for (const auto& f : req) {
      const std::string_view v = f.value();
      if (f.name() == bhttp::field::cookie && cookie->data() >= v.data() &&
          cookie->data() + cookie->size() <= v.data() + v.size()) {
        inside = true;
      }
    }
    check(inside, "a cookie's value lies within a Cookie header");
  }
  (void)sb::runtime::http::is_connection_auth(req[bhttp::field::authorization]);
  (void)sb::runtime::http::demands_connection_auth(req);

  // 1. Hop-by-hop headers.
  std::vector<std::string> named = tokens_of(req, bhttp::field::connection);
  for (std::string& t : tokens_of(req, bhttp::field::proxy_connection)) named.push_back(t);
  bool named_upgrade = false;
  for (const std::string& t : named) named_upgrade = named_upgrade || iequals(t, "upgrade");
  const bool had_upgrade = req.count(bhttp::field::upgrade) > 0;
  const std::string upgrade_value(req[bhttp::field::upgrade]);
  const std::string host_value(req[bhttp::field::host]);
  const std::size_t host_count = req.count(bhttp::field::host);
  const std::size_t length_count = req.count(bhttp::field::content_length);

  std::string upgrade;
  const bool wants_upgrade = sb::runtime::http::remove_hop_by_hop(req, &upgrade);
  check(wants_upgrade == (named_upgrade && had_upgrade),
        "an upgrade is asked for by Connection: upgrade with an Upgrade header");
  check(upgrade == (wants_upgrade ? upgrade_value : std::string()),
        "the upgrade is the Upgrade header's value");
  for (const auto name :
       {bhttp::field::connection, bhttp::field::proxy_connection, bhttp::field::keep_alive,
        bhttp::field::te, bhttp::field::transfer_encoding, bhttp::field::upgrade}) {
    check(req.count(name) == 0, "no hop-by-hop header survives");
  }
  for (const std::string& n : named) {
    if (iequals(n, "host") || iequals(n, "content-length")) continue;
    check(req.count(n) == 0, "no header Connection names survives");
  }
  check(req.count(bhttp::field::host) == host_count && req[bhttp::field::host] == host_value,
        "Host stays");
  check(req.count(bhttp::field::content_length) == length_count, "Content-Length stays");

  // 2. Forwarded headers; the client's address family from the input's size.
  // Every earlier line of either, in order, then the client (RFC 9110 §5.3:
  // lines of one name are one list).
  std::string xff_expected;
  std::string forwarded_expected;
  for (const auto& f : req) {
    const std::string_view v = trim(f.value());
    if (v.empty()) continue;
    if (iequals(f.name_string(), "X-Forwarded-For")) xff_expected.append(v).append(", ");
    if (f.name() == bhttp::field::forwarded) forwarded_expected.append(v).append(", ");
  }
  const bool v6 = size % 2 == 1;
  const std::string_view client = v6 ? "2001:db8::1" : "192.0.2.1";
  sb::runtime::http::add_forwarded(req, {client, v6, "https", host});
  check(req.count("X-Forwarded-For") == 1, "one X-Forwarded-For");
  check(req["X-Forwarded-For"] == xff_expected.append(client),
        "X-Forwarded-For is the earlier lines and the client");
  check(req.count(bhttp::field::forwarded) == 1, "one Forwarded");
  const std::string_view forwarded = req[bhttp::field::forwarded];
  std::string element = v6 ? "for=\"[2001:db8::1]\";proto=https" : "for=192.0.2.1;proto=https";
  if (!host.empty()) {
    element += ";host=\"";
    for (char c : host) {
      if (c == '"' || c == '\\') element += '\\';
      element += c;
    }
    element += '"';
  }
  check(forwarded == forwarded_expected.append(element),
        "Forwarded is the earlier lines and the client's element");

  // 4. The head for the server.
  const FieldList sent = list_of(req);
  std::string head;
  sb::runtime::http::write_request_head(head, method, target, req, framing,
                                        wants_upgrade ? std::string_view(upgrade) : "");
  bhttp::request_parser<bhttp::empty_body> back;
  back.body_limit(boost::none);
  parse_written(back, head);
  check(back.get().method_string() == method, "the method parses back");
  check(back.get().target() == target, "the target parses back");
  check(back.get().version() == 11, "the version is HTTP/1.1");
  check(back.chunked() == (framing == Framing::chunked), "chunked parses back");
  if (framing == Framing::length) {
    check(back.content_length() && *back.content_length() == *content_length,
          "Content-Length parses back");
  }
  if (framing == Framing::chunked) {
    check(!back.content_length(), "never both chunked and Content-Length");
  }
  FieldList expected = sent;
  if (framing == Framing::chunked) expected.emplace_back("Transfer-Encoding", "chunked");
  if (wants_upgrade && !upgrade.empty()) {
    expected.emplace_back("Connection", "upgrade");
    expected.emplace_back("Upgrade", upgrade);
  }
  check(list_of(back.get()) == expected, "the fields parse back as written");
  check(back.upgrade() == (wants_upgrade && !upgrade.empty()), "an upgrade parses back");

  // 5. The same fields as a response head.
  std::string response_head;
  sb::runtime::http::write_response_head(response_head, 200, "", req, Framing::chunked, true, "");
  bhttp::response_parser<bhttp::empty_body> rback;
  rback.body_limit(boost::none);
  boost::beast::error_code rec;
  rback.put(boost::asio::buffer(response_head), rec);
  // A request's Content-Length with chunked is a response Beast refuses;
  // anything else written must parse.
  if (req.count(bhttp::field::content_length) == 0) {
    check(!rec && rback.is_header_done(), "the response head parses");
    check(rback.get().result_int() == 200, "the status parses back");
    check(!rback.get().keep_alive(), "Connection: close parses back");
    check(lines_end_in_crlf(response_head), "every line of the response head ends in CRLF");
  }
  return 0;
}
