// What the http listener changes in the headers it passes on
// (docs/configuration.md, `http:`): hop-by-hop headers, forwarded headers,
// connection-oriented authentication and the affinity cookie.
#include "proxy/protocols/http/header_rules.h"

#include <gtest/gtest.h>

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/field.hpp>
#include <chrono>
#include <string>
#include <vector>

namespace sb::runtime::http {
namespace {

namespace bhttp = boost::beast::http;
using std::chrono::seconds;

std::vector<std::string> values(const Fields& fields, std::string_view name) {
  std::vector<std::string> out;
  for (const auto& f : fields) {
    if (boost::beast::iequals(f.name_string(), name)) {
      out.emplace_back(f.value());
    }
  }
  return out;
}

std::vector<std::string> names(const Fields& fields) {
  std::vector<std::string> out;
  for (const auto& f : fields) out.emplace_back(f.name_string());
  return out;
}

TEST(RemoveHopByHop, RemovesTheFixedHopByHopHeaders) {
  Fields f;
  f.insert("Host", "mail.example.com");
  f.insert("Keep-Alive", "timeout=5");
  f.insert("TE", "trailers");
  f.insert("Transfer-Encoding", "chunked");
  f.insert("Proxy-Connection", "keep-alive");
  f.insert("Upgrade", "websocket");
  f.insert("Connection", "keep-alive");
  f.insert("Accept", "*/*");
  std::string upgrade = "untouched";
  EXPECT_FALSE(remove_hop_by_hop(f, &upgrade));
  EXPECT_EQ(upgrade, "untouched");
  EXPECT_EQ(names(f), (std::vector<std::string>{"Host", "Accept"}));
}

TEST(RemoveHopByHop, RemovesWhatConnectionNames) {
  Fields f;
  f.insert("Host", "h");
  f.insert("Connection", "X-Secret, x-other");
  f.insert("Connection", " X-Third ,,");
  f.insert("X-Secret", "1");
  f.insert("X-Other", "2");
  f.insert("X-Other", "3");
  f.insert("x-third", "4");
  f.insert("X-Kept", "5");
  EXPECT_FALSE(remove_hop_by_hop(f));
  EXPECT_EQ(names(f), (std::vector<std::string>{"Host", "X-Kept"}));
}

TEST(RemoveHopByHop, ProxyConnectionNamesAreRemovedToo) {
  Fields f;
  f.insert("Proxy-Connection", "X-Legacy");
  f.insert("X-Legacy", "1");
  f.insert("Accept", "*/*");
  remove_hop_by_hop(f);
  EXPECT_EQ(names(f), (std::vector<std::string>{"Accept"}));
}

TEST(RemoveHopByHop, ConnectionCannotRemoveHostOrContentLength) {
  Fields f;
  f.insert("Host", "mail.example.com");
  f.insert("Content-Length", "5");
  f.insert("Connection", "host, Content-Length, HOST");
  remove_hop_by_hop(f);
  EXPECT_EQ(values(f, "Host"), (std::vector<std::string>{"mail.example.com"}));
  EXPECT_EQ(values(f, "Content-Length"), (std::vector<std::string>{"5"}));
  EXPECT_EQ(f.count(bhttp::field::connection), 0u);
}

TEST(RemoveHopByHop, EveryNamedHeaderGoesHoweverManyAreNamed) {
  Fields f;
  std::string list;
  for (int i = 0; i < 200; ++i) {
    list += "X-H" + std::to_string(i) + ", ";
    f.insert("X-H" + std::to_string(i), "v");
  }
  f.insert("Connection", list);
  f.insert("X-Kept", "1");
  remove_hop_by_hop(f);
  EXPECT_EQ(names(f), (std::vector<std::string>{"X-Kept"}));
}

TEST(RemoveHopByHop, UpgradeNeedsBothConnectionUpgradeAndAnUpgradeHeader) {
  {
    Fields f;
    f.insert("Connection", "keep-alive, Upgrade");
    f.insert("Upgrade", "websocket");
    f.insert("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==");
    std::string upgrade;
    EXPECT_TRUE(remove_hop_by_hop(f, &upgrade));
    EXPECT_EQ(upgrade, "websocket");
    EXPECT_EQ(names(f), (std::vector<std::string>{"Sec-WebSocket-Key"}));
  }
  {
    // Upgrade without Connection: upgrade is not a request to upgrade.
    Fields f;
    f.insert("Upgrade", "websocket");
    std::string upgrade;
    EXPECT_FALSE(remove_hop_by_hop(f, &upgrade));
    EXPECT_TRUE(upgrade.empty());
    EXPECT_EQ(f.count(bhttp::field::upgrade), 0u);
  }
  {
    // Connection: upgrade without an Upgrade header: nothing to upgrade to.
    Fields f;
    f.insert("Connection", "upgrade");
    std::string upgrade;
    EXPECT_FALSE(remove_hop_by_hop(f, &upgrade));
    EXPECT_TRUE(upgrade.empty());
  }
  {
    // Without a place to store the value, the answer is the same.
    Fields f;
    f.insert("Connection", "UPGRADE");
    f.insert("Upgrade", "h2c");
    EXPECT_TRUE(remove_hop_by_hop(f));
    EXPECT_TRUE(f.begin() == f.end());
  }
}

ForwardedFor v4_client(std::string_view host = "mail.example.com") {
  return ForwardedFor{"192.0.2.1", false, "https", host};
}

TEST(AddForwarded, SetsEveryHeaderWhenNoneCame) {
  Fields f;
  add_forwarded(f, v4_client());
  EXPECT_EQ(values(f, "X-Forwarded-For"), (std::vector<std::string>{"192.0.2.1"}));
  EXPECT_EQ(values(f, "X-Forwarded-Proto"), (std::vector<std::string>{"https"}));
  EXPECT_EQ(values(f, "X-Forwarded-Host"), (std::vector<std::string>{"mail.example.com"}));
  EXPECT_EQ(values(f, "Forwarded"),
            (std::vector<std::string>{"for=192.0.2.1;proto=https;host=\"mail.example.com\""}));
}

TEST(AddForwarded, AppendsTheClientToAnEarlierProxysList) {
  Fields f;
  f.insert("X-Forwarded-For", " 198.51.100.7, 203.0.113.9 ");
  f.insert("Forwarded", "for=198.51.100.7");
  f.insert("X-Forwarded-Proto", "http");
  add_forwarded(f, v4_client());
  EXPECT_EQ(values(f, "X-Forwarded-For"),
            (std::vector<std::string>{"198.51.100.7, 203.0.113.9, 192.0.2.1"}));
  EXPECT_EQ(values(f, "Forwarded"),
            (std::vector<std::string>{
                "for=198.51.100.7, for=192.0.2.1;proto=https;host=\"mail.example.com\""}));
  // Proto and Host say what this hop received: replaced, not appended.
  EXPECT_EQ(values(f, "X-Forwarded-Proto"), (std::vector<std::string>{"https"}));
}

TEST(AddForwarded, KeepsEveryEarlierHeaderLineInOrder) {
  // Several header lines of one name are one comma-separated list
  // (RFC 9110 §5.3): the client goes after all of them.
  Fields f;
  f.insert("X-Forwarded-For", "198.51.100.7");
  f.insert("Accept", "*/*");
  f.insert("X-Forwarded-For", "203.0.113.9");
  f.insert("Forwarded", "for=198.51.100.7");
  f.insert("Forwarded", "for=203.0.113.9");
  add_forwarded(f, v4_client(""));
  EXPECT_EQ(values(f, "X-Forwarded-For"),
            (std::vector<std::string>{"198.51.100.7, 203.0.113.9, 192.0.2.1"}));
  EXPECT_EQ(
      values(f, "Forwarded"),
      (std::vector<std::string>{"for=198.51.100.7, for=203.0.113.9, for=192.0.2.1;proto=https"}));
}

TEST(AddForwarded, EmptyEarlierHeaderIsReplaced) {
  Fields f;
  f.insert("X-Forwarded-For", "  ");
  f.insert("Forwarded", "");
  add_forwarded(f, v4_client(""));
  EXPECT_EQ(values(f, "X-Forwarded-For"), (std::vector<std::string>{"192.0.2.1"}));
  EXPECT_EQ(values(f, "Forwarded"), (std::vector<std::string>{"for=192.0.2.1;proto=https"}));
  EXPECT_EQ(f.count("X-Forwarded-Host"), 0u);
}

TEST(AddForwarded, Ipv6ClientIsQuotedAndBracketedInForwarded) {
  Fields f;
  add_forwarded(f, ForwardedFor{"2001:db8::1", true, "http", ""});
  EXPECT_EQ(values(f, "X-Forwarded-For"), (std::vector<std::string>{"2001:db8::1"}));
  EXPECT_EQ(values(f, "Forwarded"), (std::vector<std::string>{"for=\"[2001:db8::1]\";proto=http"}));
}

TEST(AddForwarded, HostIsAQuotedStringWithQuotesAndBackslashesEscaped) {
  Fields f;
  add_forwarded(f, v4_client("[::1]:8080"));
  EXPECT_EQ(values(f, "Forwarded"),
            (std::vector<std::string>{"for=192.0.2.1;proto=https;host=\"[::1]:8080\""}));
  Fields g;
  add_forwarded(g, v4_client(R"(a"b\c)"));
  EXPECT_EQ(values(g, "Forwarded"),
            (std::vector<std::string>{R"(for=192.0.2.1;proto=https;host="a\"b\\c")"}));
  EXPECT_EQ(values(g, "X-Forwarded-Host"), (std::vector<std::string>{R"(a"b\c)"}));
}

TEST(ConnectionAuth, AuthorizationWithNtlmOrNegotiate) {
  EXPECT_TRUE(is_connection_auth("NTLM TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAKAGFKAAAADw=="));
  EXPECT_TRUE(is_connection_auth("Negotiate YIIHNgYGKwYBBQUCoIIHKjCCByag"));
  EXPECT_TRUE(is_connection_auth("ntlm abc"));
  EXPECT_TRUE(is_connection_auth("  NEGOTIATE\tabc"));
  EXPECT_TRUE(is_connection_auth("NTLM"));
  EXPECT_FALSE(is_connection_auth("Basic dXNlcjpwYXNz"));
  EXPECT_FALSE(is_connection_auth("Bearer eyJ0eXAi"));
  EXPECT_FALSE(is_connection_auth("NTLMv2 abc"));
  EXPECT_FALSE(is_connection_auth("Basic NTLM"));
  EXPECT_FALSE(is_connection_auth(""));
}

TEST(ConnectionAuth, WwwAuthenticateOffersNtlmOrNegotiate) {
  auto demands = [](std::initializer_list<const char*> challenges) {
    Fields f;
    f.insert("Content-Type", "text/html");
    for (const char* c : challenges) f.insert(bhttp::field::www_authenticate, c);
    f.insert("Server", "Microsoft-IIS/10.0");
    return demands_connection_auth(f);
  };
  EXPECT_TRUE(demands({"NTLM"}));
  EXPECT_TRUE(demands({"Negotiate"}));
  EXPECT_TRUE(demands({"Negotiate, NTLM"}));
  EXPECT_TRUE(demands({"Basic realm=\"mail\", NTLM"}));
  EXPECT_TRUE(demands({"Basic realm=\"mail\"", "Negotiate oYGzMIGwoAMKAQ"}));
  EXPECT_TRUE(demands({"negotiate"}));
  EXPECT_FALSE(demands({"Basic realm=\"mail\""}));
  EXPECT_FALSE(demands({"Bearer realm=\"x\", error=\"invalid_token\""}));
  EXPECT_FALSE(demands({}));
}

TEST(FindCookie, FindsTheNamedCookieAmongSeveral) {
  Fields f;
  f.insert("Cookie", "a=1; SWBSRV=0123456789abcdef; b=2");
  EXPECT_EQ(find_cookie(f, "SWBSRV"), "0123456789abcdef");
  EXPECT_EQ(find_cookie(f, "a"), "1");
  EXPECT_EQ(find_cookie(f, "b"), "2");
  EXPECT_EQ(find_cookie(f, "c"), std::nullopt);
  // Cookie names are case-sensitive (RFC 6265).
  EXPECT_EQ(find_cookie(f, "swbsrv"), std::nullopt);
}

TEST(FindCookie, LooksInEveryCookieHeaderAndUnquotes) {
  Fields f;
  f.insert("Cookie", "a=1;b=2");
  f.insert("Accept", "*/*");
  f.insert("Cookie", " SWBSRV=\"00000000000000ff\" ; c=");
  EXPECT_EQ(find_cookie(f, "SWBSRV"), "00000000000000ff");
  EXPECT_EQ(find_cookie(f, "c"), "");
  EXPECT_EQ(find_cookie(f, "b"), "2");
}

TEST(FindCookie, NameMustMatchWholly) {
  Fields f;
  f.insert("Cookie", "XSWBSRV=1; SWBSRVX=2; SWBSRV");
  EXPECT_EQ(find_cookie(f, "SWBSRV"), std::nullopt);
  Fields none;
  EXPECT_EQ(find_cookie(none, "SWBSRV"), std::nullopt);
}

TEST(AffinityCookie, Attributes) {
  EXPECT_EQ(affinity_cookie("SWBSRV", "0123456789abcdef", false, seconds(0)),
            "SWBSRV=0123456789abcdef; Path=/; HttpOnly");
  EXPECT_EQ(affinity_cookie("SWBSRV", "0123456789abcdef", true, seconds(3600)),
            "SWBSRV=0123456789abcdef; Path=/; HttpOnly; Secure; Max-Age=3600");
}

TEST(ServerToken, RoundTripsAndDependsOnPoolAndServer) {
  const std::string token = server_token("owa", "cas1");
  ASSERT_EQ(token.size(), 16u);
  EXPECT_EQ(token.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(parse_server_token(token), server_token_value("owa", "cas1"));
  EXPECT_EQ(server_token("owa", "cas1"), token);
  EXPECT_NE(server_token("owa", "cas2"), token);
  EXPECT_NE(server_token("ecp", "cas1"), token);
  // The separator keeps ("ab", "c") and ("a", "bc") apart.
  EXPECT_NE(server_token("ab", "c"), server_token("a", "bc"));
  // The same in every process: a cookie set before a restart still names
  // its server after it (64-bit FNV-1a of "owa", a NUL byte, "cas1").
  EXPECT_EQ(token, "93ce592e07c6a1c2");
}

TEST(ServerToken, ParseRefusesWhatIsNotSixteenLowerHexDigits) {
  EXPECT_EQ(parse_server_token("0000000000000000"), 0u);
  EXPECT_EQ(parse_server_token("ffffffffffffffff"), 0xffffffffffffffffull);
  EXPECT_EQ(parse_server_token("0123456789abcdef"), 0x0123456789abcdefull);
  EXPECT_EQ(parse_server_token(""), std::nullopt);
  EXPECT_EQ(parse_server_token("0123456789abcde"), std::nullopt);
  EXPECT_EQ(parse_server_token("0123456789abcdef0"), std::nullopt);
  EXPECT_EQ(parse_server_token("0123456789ABCDEF"), std::nullopt);
  EXPECT_EQ(parse_server_token("0123456789abcdeg"), std::nullopt);
  EXPECT_EQ(parse_server_token("-123456789abcdef"), std::nullopt);
}

}  // namespace
}  // namespace sb::runtime::http
