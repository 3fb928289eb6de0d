// The http listener's routes (docs/configuration.md, `http.routes`): host
// exact or `*.` subdomain, path prefix on a segment boundary ignoring ASCII
// case, first match wins.
#include "proxy/protocols/http/route_table.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

namespace sb::runtime::http {
namespace {

std::optional<std::size_t> match_one(RouteRule rule, std::string_view host,
                                     std::string_view target) {
  const RouteTable table({std::move(rule)});
  return table.match(host, target);
}

bool path_matches(std::string_view prefix, std::string_view target) {
  return match_one({"", std::string(prefix)}, "mail.example.com", target).has_value();
}

bool host_matches(std::string_view rule_host, std::string_view host) {
  return match_one({std::string(rule_host), ""}, host, "/").has_value();
}

TEST(RouteTable, PathPrefixMatchesThePathItselfOrOnASegmentBoundaryIgnoringCase) {
  EXPECT_TRUE(path_matches("/owa", "/owa"));
  EXPECT_TRUE(path_matches("/owa", "/OWA/"));
  EXPECT_TRUE(path_matches("/owa", "/owa?x"));
  EXPECT_TRUE(path_matches("/owa", "/Owa/auth/logon.aspx?url=/owa"));
  EXPECT_TRUE(path_matches("/OWA", "/owa/"));
  EXPECT_FALSE(path_matches("/owa", "/owacompat"));
  EXPECT_FALSE(path_matches("/owa", "/OWAcompat/x"));
  EXPECT_FALSE(path_matches("/owa", "/ow"));
  EXPECT_FALSE(path_matches("/owa", "/ecp/owa"));
  EXPECT_FALSE(path_matches("/owa", "/"));
  // The query is not part of the path: "/x?/owa" is the path "/x".
  EXPECT_FALSE(path_matches("/owa", "/x?/owa"));
}

TEST(RouteTable, PrefixWithTrailingSlashBehavesAsWithout) {
  for (const char* target : {"/owa", "/owa/", "/OWA?x", "/owa/x"}) {
    EXPECT_TRUE(path_matches("/owa/", target)) << target;
  }
  EXPECT_FALSE(path_matches("/owa/", "/owacompat"));
  EXPECT_TRUE(
      path_matches("/Microsoft-Server-ActiveSync/", "/microsoft-server-activesync?Cmd=Ping"));
}

TEST(RouteTable, SlashAloneOrNoPrefixMatchesEveryPath) {
  for (const char* target : {"/", "/owa", "/x/y?z", "*", "http://h"}) {
    EXPECT_TRUE(path_matches("/", target)) << target;
    EXPECT_TRUE(path_matches("", target)) << target;
  }
}

TEST(RouteTable, ExactHostIgnoresCasePortAndTrailingDot) {
  EXPECT_TRUE(host_matches("mail.example.com", "mail.example.com"));
  EXPECT_TRUE(host_matches("mail.example.com", "MAIL.Example.COM"));
  EXPECT_TRUE(host_matches("mail.example.com", "mail.example.com:443"));
  EXPECT_TRUE(host_matches("mail.example.com", "mail.example.com."));
  EXPECT_TRUE(host_matches("mail.example.com", "Mail.Example.Com.:8443"));
  EXPECT_TRUE(host_matches("Mail.Example.COM.", "mail.example.com"));
  EXPECT_FALSE(host_matches("mail.example.com", "mail.example.co"));
  EXPECT_FALSE(host_matches("mail.example.com", "a.mail.example.com"));
  EXPECT_FALSE(host_matches("mail.example.com", "mail.example.com.evil"));
  EXPECT_FALSE(host_matches("mail.example.com", ""));
}

TEST(RouteTable, WildcardMatchesSubdomainsOnly) {
  EXPECT_TRUE(host_matches("*.example.com", "a.example.com"));
  EXPECT_TRUE(host_matches("*.example.com", "a.b.example.com"));
  EXPECT_TRUE(host_matches("*.example.com", "A.Example.Com:443"));
  EXPECT_TRUE(host_matches("*.Example.COM", "a.example.com."));
  EXPECT_FALSE(host_matches("*.example.com", "example.com"));
  EXPECT_FALSE(host_matches("*.example.com", "badexample.com"));
  EXPECT_FALSE(host_matches("*.example.com", ".example.com"));
  EXPECT_FALSE(host_matches("*.example.com", "a.example.com.evil"));
  EXPECT_FALSE(host_matches("*.example.com", "a.example.org"));
  // The wildcard of nothing matches nothing, not everything.
  EXPECT_FALSE(host_matches("*.", "a.example.com"));
  EXPECT_FALSE(host_matches("*.", ""));
  EXPECT_FALSE(host_matches(".", "a.example.com"));
  EXPECT_FALSE(host_matches("..", ""));
}

TEST(RouteTable, RuleHostsAreNormalizedAsRequestHostsAre) {
  EXPECT_TRUE(host_matches("Mail.Example.Com..", "mail.example.com"));
  // A rule host is a host, without port: one with a colon matches nothing.
  EXPECT_FALSE(host_matches("mail.example.com:443", "mail.example.com:443"));
  EXPECT_FALSE(host_matches(":1", "a"));
  EXPECT_TRUE(host_matches("*.Example.Com..", "a.example.com"));
}

TEST(RouteTable, Ipv6HostKeepsBracketsAndDropsThePort) {
  EXPECT_TRUE(host_matches("[::1]", "[::1]:8080"));
  EXPECT_TRUE(host_matches("[::1]", "[::1]"));
  EXPECT_TRUE(host_matches("[2001:DB8::1]", "[2001:db8::1]:443"));
  EXPECT_FALSE(host_matches("[::1]", "[::2]:8080"));
  EXPECT_FALSE(host_matches("::1", "[::1]:8080"));
}

TEST(RouteTable, NormalizeHost) {
  std::string out;
  normalize_host("[::1]:8080", out);
  EXPECT_EQ(out, "[::1]");
  normalize_host("[FE80::1]", out);
  EXPECT_EQ(out, "[fe80::1]");
  normalize_host("Mail.Example.Com.:443", out);
  EXPECT_EQ(out, "mail.example.com");
  normalize_host("192.0.2.1:80", out);
  EXPECT_EQ(out, "192.0.2.1");
  normalize_host("", out);
  EXPECT_EQ(out, "");
}

TEST(RouteTable, NormalizeHostIsIdempotent) {
  // Whatever a client sends, normalizing what came out changes nothing:
  // the form a host is matched in is one form.
  for (const char* host : {"a:b:c", "x..", "x.:1.", "a:1.:2", "[::1]:8080", "[abc", "[a:b.",
                           "Mail.Example.Com.:443", ":", ".", "..:", "[]"}) {
    std::string once;
    std::string twice;
    normalize_host(host, once);
    normalize_host(once, twice);
    EXPECT_EQ(once, twice) << host;
  }
}

TEST(RouteTable, TargetPath) {
  EXPECT_EQ(target_path("/owa/x?y=1"), "/owa/x");
  EXPECT_EQ(target_path("/owa"), "/owa");
  EXPECT_EQ(target_path("http://h/owa/x"), "/owa/x");
  EXPECT_EQ(target_path("https://h:443/owa/x?q"), "/owa/x");
  EXPECT_EQ(target_path("http://h"), "/");
  EXPECT_EQ(target_path("http://h?q"), "/");
  EXPECT_EQ(target_path("*"), "");
  EXPECT_EQ(target_path(""), "");
  EXPECT_EQ(target_path("h/owa"), "");
}

TEST(RouteTable, AbsoluteFormTargetsMatchOnTheirPath) {
  EXPECT_TRUE(path_matches("/owa", "http://h/owa/x"));
  EXPECT_TRUE(path_matches("/owa", "HTTPS://H/OWA?x"));
  EXPECT_TRUE(path_matches("/owa", "http://h:80/owa"));
  EXPECT_FALSE(path_matches("/owa", "http://h/owacompat"));
  EXPECT_FALSE(path_matches("/owa", "http://owa/"));
  // The authority of an absolute-form target is not its path.
  EXPECT_FALSE(path_matches("/owa", "http://h?/owa"));
}

TEST(RouteTable, AsteriskFormMatchesOnlyRoutesWithoutPrefix) {
  EXPECT_FALSE(path_matches("/owa", "*"));
  EXPECT_TRUE(path_matches("/", "*"));
}

TEST(RouteTable, FirstMatchWins) {
  const RouteTable table({
      {"mail.example.com", "/owa"},
      {"*.example.com", ""},
      {"", "/owa"},
      {"", ""},
  });
  EXPECT_EQ(table.size(), 4u);
  EXPECT_EQ(table.match("mail.example.com", "/owa/"), 0u);
  EXPECT_EQ(table.match("mail.example.com", "/ecp/"), 1u);
  EXPECT_EQ(table.match("other.example.com", "/owa/"), 1u);
  EXPECT_EQ(table.match("example.org", "/OWA"), 2u);
  EXPECT_EQ(table.match("example.org", "/ecp"), 3u);
  EXPECT_EQ(table.match("", "/"), 3u);
}

TEST(RouteTable, NoMatchIsNullopt) {
  const RouteTable table({{"mail.example.com", "/owa"}, {"*.example.com", "/ecp"}});
  EXPECT_EQ(table.match("mail.example.com", "/x"), std::nullopt);
  EXPECT_EQ(table.match("example.com", "/ecp"), std::nullopt);
  EXPECT_EQ(table.match("mail.example.org", "/owa"), std::nullopt);
  EXPECT_EQ(table.match("", "/owa"), std::nullopt);
  EXPECT_EQ(RouteTable({}).match("mail.example.com", "/"), std::nullopt);
}

}  // namespace
}  // namespace sb::runtime::http
