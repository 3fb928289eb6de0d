// The configuration loader's errors: one failing case per validation rule
// with its exact position, error collection and format, and every shipped
// example (configs/, docs/) loading cleanly.

#include "proxy/config/config_loader.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "proxy/config/yaml_reader.h"
#include "tests/unit/proxy/config/config_test_util.h"

namespace sb::config {
namespace {

using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;
using ::testing::HasSubstr;
using namespace sb::config::testing_util;

// Appended to cases that need pools; after the listeners, so that the line
// numbers of the case text are unchanged (pools may come in any order).
constexpr std::string_view kPools =
    "pools:\n"
    "  p: {servers: [{address: 10.0.0.1:25, name: p1.example.com}]}\n"
    "  q: {servers: [{address: 10.0.0.2:25}, {address: 10.0.0.3:25, name: q2.example.com}]}\n";

struct ErrorCase {
  const char* name;
  const char* text;
  int line;
  int column;
  const char* message;  // a substring of the message
  bool pools = false;
};

void PrintTo(const ErrorCase& c, std::ostream* os) {
  *os << c.name;
}

// The line of `text` at `mark` with a caret under the column, so that a wrong
// position is obvious in the failure output.
std::string point_at(const std::string& text, Mark mark) {
  std::istringstream in(text);
  std::string line;
  for (int i = 0; i < mark.line && std::getline(in, line); ++i) {
  }
  return line + "\n" + std::string(static_cast<std::size_t>(std::max(mark.column - 1, 0)), ' ') +
         "^\n";
}

class ConfigErrorTest : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(ConfigErrorTest, ReportsOneErrorAtItsPosition) {
  const ErrorCase& c = GetParam();
  std::string text = yaml(c.text);
  if (c.pools) text += kPools;
  const LoadResult result = load_config_string(text, "t.yaml");
  ASSERT_EQ(result.errors.size(), 1u) << text << "---\n" << dump(result);
  EXPECT_FALSE(result.config);
  const ConfigError& e = result.errors[0];
  EXPECT_EQ(e.mark.line, c.line) << e.to_string() << "\n" << point_at(text, e.mark);
  EXPECT_EQ(e.mark.column, c.column) << e.to_string() << "\n" << point_at(text, e.mark);
  EXPECT_THAT(e.message, HasSubstr(c.message));
}

const ErrorCase kErrorCases[] = {
    // --- file structure and YAML
    {"EmptyFile", "", 1, 1, "the configuration is empty"},
    {"OnlyComments", "# nothing yet\n", 1, 1, "the configuration is empty"},
    {"TopLevelList", "- pools\n- listeners\n", 1, 1, "the top level must be a mapping"},
    {"TopLevelScalar", "hello\n", 1, 1, "got a value"},
    {"YamlSyntax", "workers: 2\n  bad: 1\n", 2, 6, "YAML syntax error: illegal map value"},
    {"SecondDocument", "workers: 2\n---\nworkers: 3\n", 3, 1, "second YAML document"},
    {"UnknownTopLevelKey", "wokers: 2\n", 1, 1,
     R"(unknown key "wokers" at top level (did you mean "workers"?))"},
    {"UnknownKeyFarFromAny", "colour: red\n", 1, 1, R"(unknown key "colour" at top level)"},
    {"DuplicateKey", "workers: 2\nworkers: 3\n", 2, 1, R"(duplicate key "workers" at top level)"},
    {"NullValue", "log:\n  level:\n", 2, 3, "log: level: missing value"},
    {"MapWhereScalarExpected", "shutdown-grace: {a: 1}\n", 1, 17, "expected a duration"},
    {"ScalarWhereMapExpected", "log: info\n", 1, 6, "log: expected a mapping, got a value"},
    {"ListWhereScalarExpected", "admin: {listen: [a]}\n", 1, 17, "expected IP:PORT, got a list"},
    {"PoolsNotMapping", "pools: [a, b]\n", 1, 8, "pools: expected a mapping, got a list"},
    {"ListenersNotMapping", "listeners: none\n", 1, 12, "listeners: expected a mapping"},
    // --- top level
    {"WorkersZero", "workers: 0\n", 1, 10, R"(expected "auto" or an integer 1..1024, got "0")"},
    {"WorkersTooMany", "workers: 1025\n", 1, 10, "1..1024"},
    {"WorkersWord", "workers: many\n", 1, 10, R"(got "many")"},
    {"DurationWithoutUnit", "shutdown-grace: 30\n", 1, 17, R"("30" has no unit)"},
    {"DurationUnknownUnit", "shutdown-grace: 30sec\n", 1, 17, R"(unknown unit "sec")"},
    {"DurationNegative", "shutdown-grace: -5s\n", 1, 17, "is negative"},
    {"LogLevel", "log: {level: loud}\n", 1, 14, R"("loud" is not one of: trace, debug, info)"},
    {"LogFormat", "log: {format: xml}\n", 1, 15, R"("xml" is not one of: text, json)"},
    {"LogAccessNotBool", "log: {access: yes}\n", 1, 15, R"(expected true or false, got "yes")"},
    {"AdminListenHostName", "admin: {listen: localhost:9901}\n", 1, 17, "expected an IP address"},
    {"AdminListenWithoutPort", "admin: {listen: 127.0.0.1}\n", 1, 17, R"(missing ":PORT")"},
    {"ResolverServerHostName", "resolver: {servers: [ns.example.com:53]}\n", 1, 22,
     "expected an IP address"},
    {"ResolverAttempts", "resolver: {attempts: 11}\n", 1, 22,
     R"(attempts: expected an integer 1..10, got "11")"},
    {"ResolverMinTtlAboveMaxTtl", "resolver:\n  min-ttl: 10m\n  max-ttl: 5m\n", 3, 3,
     "min-ttl (10m) is greater than max-ttl (5m)"},
    // --- addresses (a server's address)
    {"AddressPortZero", "pools:\n  p: {servers: [{address: 10.0.0.1:0}]}\n", 2, 27,
     R"(port "0" is not in 1..65535)"},
    {"AddressPortTooLarge", "pools:\n  p: {servers: [{address: 10.0.0.1:70000}]}\n", 2, 27,
     R"(port "70000")"},
    {"AddressIpv6WithoutBrackets", "pools:\n  p: {servers: [{address: \"2001:db8::1:25\"}]}\n", 2,
     27, "IPv6 addresses need brackets"},
    {"AddressBadHostName", "pools:\n  p: {servers: [{address: bad_host.example:25}]}\n", 2, 27,
     R"("bad_host.example" is not a valid host name)"},
    {"AddressBadIpv4", "pools:\n  p: {servers: [{address: 10.0.0.300:25}]}\n", 2, 27,
     "is not an IPv4 address"},
    {"AddressWithoutPort", "pools:\n  p: {servers: [{address: 10.0.0.1}]}\n", 2, 27,
     R"(missing ":PORT")"},
    // --- pools
    {"PoolNameInvalid", "pools:\n  re/lay: {servers: [{address: 10.0.0.1:25}]}\n", 2, 3,
     R"(pool name "re/lay" is not valid)"},
    {"PoolNameEmpty", "pools:\n  \"\": {servers: [{address: 10.0.0.1:25}]}\n", 2, 3,
     R"(pool name "" is not valid)"},
    {"PoolWithoutServers", "pools:\n  p: {balance: maglev}\n", 2, 3, R"(pool "p" has no servers)"},
    {"PoolEmptyServers", "pools:\n  p: {servers: []}\n", 2, 16, "the pool has no servers"},
    {"UnknownPoolKey", R"(
pools:
  relay:
    servers: [{address: 10.0.0.1:25}]
    conect-timeout: 3s
)",
     4, 5, R"(unknown key "conect-timeout" in pool "relay" (did you mean "connect-timeout"?))"},
    {"Balance", "pools:\n  p: {balance: fastest, servers: [{address: 10.0.0.1:25}]}\n", 2, 16,
     R"("fastest" is not one of: round-robin, weighted-round-robin)"},
    {"ServerWeightZero", "pools:\n  p: {servers: [{address: 10.0.0.1:25, weight: 0}]}\n", 2, 48,
     R"(pool "p" server #1: weight: expected an integer 1..256, got "0")"},
    {"ServerWeightTooHigh", "pools:\n  p: {servers: [{address: 10.0.0.1:25, weight: 257}]}\n", 2,
     48, "1..256"},
    {"ServerPriorityTooHigh", "pools:\n  p: {servers: [{address: 10.0.0.1:25, priority: 1001}]}\n",
     2, 50, "priority: expected an integer 0..1000"},
    {"ServerState", "pools:\n  p: {servers: [{address: 10.0.0.1:25, state: paused}]}\n", 2, 47,
     R"("paused" is not one of: enabled, drain, disabled)"},
    {"ServerWithoutAddress", "pools:\n  p: {servers: [{name: x}]}\n", 2, 17,
     R"(pool "p" server #1 needs one of address, srv or mx)"},
    {"ServerAddressAndMx", "pools:\n  p: {servers: [{address: 10.0.0.1:25, mx: example.com}]}\n", 2,
     40, "only one of address, srv and mx may be given"},
    {"ServerPortWithoutMx", "pools:\n  p: {servers: [{address: 10.0.0.1:25, port: 26}]}\n", 2, 40,
     "port: only used with mx"},
    {"ServerNamesNotUnique", R"(
pools:
  p:
    servers:
      - {address: 10.0.0.1:25, name: hub1}
      - {address: 10.0.0.2:25, name: hub1}
)",
     5, 32, R"(server name "hub1" is used twice)"},
    {"ServerDefaultNamesNotUnique", R"(
pools:
  p:
    servers:
      - address: 10.0.0.1:25
      - address: 10.0.0.1:25
)",
     5, 9, R"(server name "10.0.0.1:25" is used twice)"},
    {"ServerNameWithSlash", "pools:\n  p: {servers: [{address: 10.0.0.1:25, name: a/b}]}\n", 2, 46,
     R"("a/b" may not contain "/")"},
    {"ServerSrvNotDnsName", "pools:\n  p: {servers: [{srv: \"_sip _tcp\"}]}\n", 2, 23,
     "is not a valid DNS name"},
    {"SourcePrefixV4", "pools:\n  p: {source-network-prefix: {ipv4: 33}, servers: [{mx: a.b}]}\n",
     2, 37, "source-network-prefix.ipv4: expected an integer 0..32"},
    {"SourcePrefixV6", "pools:\n  p: {source-network-prefix: {ipv6: 129}, servers: [{mx: a.b}]}\n",
     2, 37, "source-network-prefix.ipv6: expected an integer 0..128"},
    {"Retries", "pools:\n  p: {retries: 101, servers: [{mx: a.b}]}\n", 2, 16,
     R"(retries: expected an integer 0..100, got "101")"},
    {"ConnectTimeoutZero", "pools:\n  p: {connect-timeout: 0s, servers: [{mx: a.b}]}\n", 2, 24,
     "must be greater than 0"},
    {"ProxyProtocol", "pools:\n  p: {proxy-protocol: v3, servers: [{mx: a.b}]}\n", 2, 23,
     R"("v3" is not one of: none, v1, v2)"},
    {"Source", "pools:\n  p: {source: server, servers: [{mx: a.b}]}\n", 2, 15,
     R"("server" is not one of: proxy, client)"},
    // --- health and outlier (health: on a line of its own: columns from 5)
    {"HealthCheck", "pools:\n  p:\n    servers: [{mx: a.b}]\n    health: {check: ping}\n", 4, 21,
     R"(pool "p" health: check: "ping" is not one of: none, tcp, smtp, http, https, sip-options)"},
    {"HealthIntervalZero", "pools:\n  p:\n    servers: [{mx: a.b}]\n    health: {interval: 0s}\n",
     4, 24, "interval: must be greater than 0"},
    {"HealthTimeoutZero", "pools:\n  p:\n    servers: [{mx: a.b}]\n    health: {timeout: 0ms}\n", 4,
     23, "timeout: must be greater than 0"},
    {"HealthRiseZero", "pools:\n  p:\n    servers: [{mx: a.b}]\n    health: {rise: 0}\n", 4, 20,
     "rise: expected an integer 1..100"},
    {"HealthFallTooHigh", "pools:\n  p:\n    servers: [{mx: a.b}]\n    health: {fall: 101}\n", 4,
     20, "fall: expected an integer 1..100"},
    {"HealthPort", "pools:\n  p:\n    servers: [{mx: a.b}]\n    health: {port: 65536}\n", 4, 20,
     "port: expected an integer 0..65535"},
    {"HealthPathWithoutSlash",
     "pools:\n  p:\n    servers: [{mx: a.b}]\n    health: {path: owa/health}\n", 4, 20,
     R"("owa/health" must start with "/")"},
    // The check's request line and Host header take them as they are: a CR
    // or LF would end the line and let the file add a header.
    {"HealthPathCrLf",
     "pools:\n  p:\n    servers: [{mx: a.b}]\n    health: {path: \"/h\\r\\nX-Evil: 1\"}\n", 4, 20,
     R"(health: path: "/h\x0d\x0aX-Evil: 1" must not contain spaces or control characters)"},
    {"HealthPathSpace", "pools:\n  p:\n    servers: [{mx: a.b}]\n    health: {path: \"/a b\"}\n", 4,
     20, R"("/a b" must not contain spaces or control characters)"},
    {"HealthHostLf",
     "pools:\n  p:\n    servers: [{mx: a.b}]\n    health: {host: \"a.example\\nX: 1\"}\n", 4, 20,
     R"(health: host: "a.example\x0aX: 1" must not contain spaces or control characters)"},
    {"HealthHostTab", "pools:\n  p:\n    servers: [{mx: a.b}]\n    health: {host: \"a\\tb\"}\n", 4,
     20, R"("a\x09b" must not contain)"},
    {"HealthExpectStatusOutOfRange",
     "pools:\n  p:\n    servers: [{mx: a.b}]\n    health: {expect-status: 600}\n", 4, 29,
     R"(expected a status like 200 or a range like 200-399 within 100..599, got "600")"},
    {"HealthExpectStatusReversed",
     "pools:\n  p:\n    servers: [{mx: a.b}]\n    health: {expect-status: 399-200}\n", 4, 29,
     R"(got "399-200")"},
    {"HealthUnknownKey", "pools:\n  p:\n    servers: [{mx: a.b}]\n    health: {chek: tcp}\n", 4, 14,
     R"(unknown key "chek" in pool "p" health (did you mean "check"?))"},
    {"OutlierEjectionTimeZero",
     "pools:\n  p:\n    servers: [{mx: a.b}]\n    outlier: {ejection-time: 0s}\n", 4, 30,
     "ejection-time: must be greater than 0"},
    {"OutlierFailuresNegative",
     "pools:\n  p:\n    servers: [{mx: a.b}]\n    outlier: {consecutive-failures: -1}\n", 4, 37,
     "expected an integer 0..1000"},
    // --- listeners (layout: `  l:` on line 2, keys from column 5)
    {"ListenerNameInvalid", "listeners:\n  \"my listener\": {listen: [\"0.0.0.0:25\"], pool: p}\n",
     2, 3, R"(listener name "my listener" is not valid)", true},
    {"ListenerPoolUndefined", "listeners:\n  l:\n    listen: [\"0.0.0.0:25\"]\n    pool: pp\n", 4,
     11, R"(listener "l": pool "pp" is not defined (did you mean "p"?))", true},
    {"ListenerWithoutListen", "listeners:\n  l:\n    pool: p\n", 2, 3,
     R"(listener "l" needs listen)", true},
    {"ListenerEmptyListen", "listeners:\n  l:\n    listen: []\n    pool: p\n", 3, 13,
     "listen: is empty", true},
    {"ListenNull", "listeners:\n  l:\n    listen:\n    pool: p\n", 3, 5,
     R"(listener "l": listen: missing value (expected a list))", true},
    {"ListenHostName", "listeners:\n  l:\n    listen: [\"mail.example.com:25\"]\n    pool: p\n", 3,
     14, "expected an IP address", true},
    {"ListenDuplicateAcrossListeners", R"(
listeners:
  a: {listen: ["0.0.0.0:25"], pool: p}
  b: {listen: ["0.0.0.0:587", "0.0.0.0:25"], pool: p}
)",
     3, 31, R"(listener "b": listen address 0.0.0.0:25 is already used by listener "a")", true},
    {"ListenDuplicateIpv6Spelling", R"(
listeners:
  a: {listen: ["[::]:25"], pool: p}
  b: {listen: ["[0::0]:25"], pool: p}
)",
     3, 16, R"(is already used by listener "a")", true},
    {"ListenEqualsAdmin", "listeners:\n  l: {listen: [\"127.0.0.1:9901\"], pool: p}\n", 2, 16,
     "already used by admin.listen", true},
    {"TcpWithoutPool", "listeners:\n  l: {listen: [\"0.0.0.0:25\"]}\n", 2, 3,
     R"(listener "l" needs pool (protocol tcp))"},
    {"SmtpWithoutPool", "listeners:\n  l: {listen: [\"0.0.0.0:25\"], protocol: smtp}\n", 2, 3,
     "needs pool (protocol smtp)"},
    {"SipWithoutPool", "listeners:\n  l: {listen: [\"0.0.0.0:5060\"], protocol: sip}\n", 2, 3,
     "needs pool (protocol sip)"},
    {"HttpWithoutHttpSection", "listeners:\n  l: {listen: [\"0.0.0.0:80\"], protocol: http}\n", 2,
     3, R"(listener "l" needs http: {routes)"},
    {"HttpWithoutRoutes",
     "listeners:\n  l:\n    listen: [\"0.0.0.0:80\"]\n    protocol: http\n    http: {affinity: "
     "none}\n",
     5, 5, R"(listener "l" http needs routes)"},
    {"HttpEmptyRoutes",
     "listeners:\n  l:\n    listen: [\"0.0.0.0:80\"]\n    protocol: http\n    http: {routes: []}\n",
     5, 20, "routes: is empty"},
    {"HttpWithPool",
     "listeners:\n  l:\n    listen: [\"0.0.0.0:80\"]\n    protocol: http\n    pool: p\n    http: "
     "{routes: [{pool: p}]}\n",
     5, 5, "pool: not used with protocol http", true},
    {"DnsWithoutDnsSection", "listeners:\n  l: {listen: [\"0.0.0.0:53\"], protocol: dns}\n", 2, 3,
     R"(listener "l" needs dns: {records)"},
    {"DnsWithoutRecords",
     "listeners:\n  l:\n    listen: [\"0.0.0.0:53\"]\n    protocol: dns\n    dns: {rotate: true}\n",
     5, 5, R"(listener "l" dns needs records)"},
    {"DnsWithPool",
     "listeners:\n  l:\n    listen: [\"0.0.0.0:53\"]\n    protocol: dns\n    pool: p\n    dns: "
     "{records: [{name: a.example, pool: p}]}\n",
     5, 5, "pool: not used with protocol dns", true},
    {"ProtocolUnknown", "listeners:\n  l:\n    listen: [\"0.0.0.0:53\"]\n    protocol: udp\n", 4,
     15, R"("udp" is not one of: tcp, smtp, http, sip, dns)"},
    {"SmtpSectionOnTcp",
     "listeners:\n  l:\n    listen: [\"0.0.0.0:25\"]\n    pool: p\n    smtp: {mode: inspect}\n", 5,
     5, R"(listener "l": smtp: not allowed with protocol tcp)", true},
    {"DnsSectionOnHttp",
     "listeners:\n  l:\n    listen: [\"0.0.0.0:80\"]\n    protocol: http\n    dns: {}\n    http: "
     "{routes: [{pool: p}]}\n",
     5, 5, "dns: not allowed with protocol http", true},
    {"HttpSectionOnSip",
     "listeners:\n  l:\n    http: {}\n    listen: [\"0.0.0.0:5060\"]\n    protocol: sip\n    pool: "
     "p\n",
     3, 5, "http: not allowed with protocol sip", true},
    {"TlsOnTcp",
     "listeners:\n  l:\n    listen: [\"0.0.0.0:25\"]\n    pool: p\n    tls: {certificates: []}\n",
     5, 5, "tls: not allowed with protocol tcp (only http and smtp listeners use TLS)", true},
    {"TlsOnDns",
     "listeners:\n  l:\n    listen: [\"0.0.0.0:53\"]\n    protocol: dns\n    tls: {}\n    dns: "
     "{records: [{name: a.example, pool: p}]}\n",
     5, 5, "tls: not allowed with protocol dns", true},
    {"TlsOnSip",
     "listeners:\n  l:\n    listen: [\"0.0.0.0:5061\"]\n    protocol: sip\n    pool: p\n    tls: "
     "{}\n",
     6, 5, "tls: not allowed with protocol sip", true},
    {"MaxConnectionsZero",
     "listeners:\n  l:\n    listen: [\"0.0.0.0:25\"]\n    pool: p\n    max-connections: 0\n", 5, 22,
     R"(max-connections: expected an integer 1..4294967295, got "0")", true},
    {"MaxConnectionsPerSourceNegative",
     "listeners:\n  l:\n    listen: [\"0.0.0.0:25\"]\n    pool: p\n    max-connections-per-source: "
     "-1\n",
     5, 33, "expected an integer 0..4294967295", true},
    {"AcceptProxyNotBool",
     "listeners:\n  l:\n    listen: [\"0.0.0.0:25\"]\n    pool: p\n    accept-proxy: on\n", 5, 19,
     R"(accept-proxy: expected true or false, got "on")", true},
    {"ProxyHeaderTimeoutZero",
     "listeners:\n  l:\n    listen: [\"0.0.0.0:25\"]\n    pool: p\n    proxy-header-timeout: 0\n",
     5, 27, "must be greater than 0", true},
    {"IdleTimeoutWithoutUnit",
     "listeners:\n  l:\n    listen: [\"0.0.0.0:25\"]\n    pool: p\n    idle-timeout: 300\n", 5, 19,
     R"("300" has no unit)", true},
    {"AllowBadCidr",
     "listeners:\n  l:\n    listen: [\"0.0.0.0:25\"]\n    pool: p\n    allow: [10.0.0.0/33]\n", 5,
     13, R"("10.0.0.0/33" is not a network)", true},
    {"DenyNotList",
     "listeners:\n  l:\n    listen: [\"0.0.0.0:25\"]\n    pool: p\n    deny: 10.0.0.0/8\n", 5, 11,
     "deny: expected a list, got a value", true},
};

// Cases for the protocol sections; the listener header is always the same.
#define SMTP_LISTENER \
  "listeners:\n  l:\n    listen: [\"0.0.0.0:25\"]\n    protocol: smtp\n    pool: p\n"
#define HTTP_LISTENER "listeners:\n  l:\n    listen: [\"0.0.0.0:80\"]\n    protocol: http\n"
#define SIP_LISTENER \
  "listeners:\n  l:\n    listen: [\"0.0.0.0:5060\"]\n    protocol: sip\n    pool: p\n"
#define DNS_LISTENER "listeners:\n  l:\n    listen: [\"0.0.0.0:53\"]\n    protocol: dns\n"
#define ROUTES "    http:\n      routes: [{pool: p}]\n"
#define CERTS "      certificates: [{cert: /c, key: /k}]\n"

const ErrorCase kSectionCases[] = {
    // --- tls (lines 6+; keys at column 7)
    {"TlsMinVersion", SMTP_LISTENER "    tls:\n" CERTS "      min-version: \"1.1\"\n", 8, 20,
     R"("1.1" is not one of: 1.2, 1.3)", true},
    {"TlsWithoutCertificates", SMTP_LISTENER "    tls:\n      min-version: \"1.3\"\n", 6, 5,
     R"(listener "l" tls needs certificates)", true},
    {"TlsEmptyCertificates", SMTP_LISTENER "    tls:\n      certificates: []\n", 7, 21,
     "certificates: is empty", true},
    {"TlsCertificateWithoutKey", SMTP_LISTENER "    tls:\n      certificates: [{cert: /c}]\n", 7,
     22, R"(listener "l" tls certificate #1 needs both cert and key)", true},
    {"TlsVerifyClientWithoutCa", SMTP_LISTENER "    tls:\n" CERTS "      verify-client: required\n",
     8, 22, R"(verify-client: "required" needs client-ca)", true},
    {"TlsVerifyClientValue", SMTP_LISTENER "    tls:\n" CERTS "      verify-client: always\n", 8,
     22, R"("always" is not one of: none, optional, required)", true},
    // --- smtp
    {"SmtpMode", SMTP_LISTENER "    smtp: {mode: proxy}\n", 6, 18,
     R"(listener "l" smtp: mode: "proxy" is not one of: passthrough, inspect)", true},
    {"SmtpBannerTimeoutZero", SMTP_LISTENER "    smtp: {banner-timeout: 0s}\n", 6, 28,
     "must be greater than 0", true},
    {"SmtpHostName", SMTP_LISTENER "    smtp: {hostname: \"relay example\"}\n", 6, 22,
     "is not a valid host name", true},
    {"SmtpSizeWithoutUnit", SMTP_LISTENER "    smtp: {max-message-size: 50}\n", 6, 30,
     R"("50" has no unit)", true},
    {"SmtpSizeUnknownUnit", SMTP_LISTENER "    smtp: {max-message-size: 50XB}\n", 6, 30,
     R"(unknown unit "XB")", true},
    // --- http
    {"HttpAffinity", HTTP_LISTENER ROUTES "      affinity: sticky\n", 7, 17,
     R"("sticky" is not one of: none, cookie, source-ip)", true},
    {"HttpCookieUnknownKey", HTTP_LISTENER ROUTES "      cookie: {name: X, max_age: 0}\n", 7, 25,
     R"(unknown key "max_age" in listener "l" http cookie (did you mean "max-age"?))", true},
    {"HttpCookieName", HTTP_LISTENER ROUTES "      cookie: {name: \"a b\"}\n", 7, 22,
     R"("a b" is not a valid cookie name)", true},
    {"HttpCookieMaxAge", HTTP_LISTENER ROUTES "      cookie: {max-age: 10}\n", 7, 25,
     "cookie.max-age: \"10\" has no unit", true},
    {"HttpRequestTimeoutZero", HTTP_LISTENER ROUTES "      request-timeout: 0s\n", 7, 24,
     "must be greater than 0", true},
    {"HttpMaxHeaderSize", HTTP_LISTENER ROUTES "      max-header-size: lots\n", 7, 24,
     R"("lots" is not a size)", true},
    {"HttpRouteWithoutPool",
     HTTP_LISTENER "    http:\n      routes:\n        - match: {host: a.example}\n", 7, 11,
     R"(listener "l" http route #1 needs pool)", true},
    {"HttpRoutePoolUndefined", HTTP_LISTENER "    http:\n      routes: [{pool: owa}]\n", 6, 23,
     R"(listener "l" http route #1: pool "owa" is not defined)", true},
    {"HttpRouteMatchUnknownKey",
     HTTP_LISTENER "    http:\n      routes: [{match: {path: /owa}, pool: p}]\n", 6, 25,
     R"(unknown key "path" in listener "l" http route #1 match)", true},
    {"HttpRoutePathPrefixWithoutSlash",
     HTTP_LISTENER "    http:\n      routes: [{match: {path-prefix: owa}, pool: p}]\n", 6, 38,
     R"(match.path-prefix: "owa" must start with "/")", true},
    {"HttpRouteHost",
     HTTP_LISTENER "    http:\n      routes: [{match: {host: \"a.*.example\"}, pool: p}]\n", 6, 31,
     R"("a.*.example" is not a valid host name)", true},
    {"HttpRetryOn", HTTP_LISTENER ROUTES "      retry-on: [reset, timeout]\n", 7, 25,
     R"("timeout" is not one of connect-failure, reset, 503)", true},
    {"HttpH2WindowTooLarge", HTTP_LISTENER ROUTES "      h2: {initial-window-size: 4GB}\n", 7, 33,
     "is over 2147483647 bytes, the largest HTTP/2 window", true},
    // --- sip
    {"SipFailoverOnSuccess", SIP_LISTENER "    sip: {failover-on: [\"200\"]}\n", 6, 25,
     R"(expected a status like "408" or a range like "500-599" within 400..699, got "200")", true},
    {"SipFailoverOnReversedRange", SIP_LISTENER "    sip: {failover-on: [\"408\", \"599-500\"]}\n",
     6, 32, R"(got "599-500")", true},
    {"SipTransport", SIP_LISTENER "    sip: {transports: [udp, tls]}\n", 6, 29,
     R"("tls" is not one of: udp, tcp)", true},
    {"SipTransportTwice", SIP_LISTENER "    sip: {transports: [udp, udp]}\n", 6, 29,
     R"("udp" is listed twice)", true},
    {"SipInviteTimeoutZero", SIP_LISTENER "    sip: {invite-timeout: 0ms}\n", 6, 27,
     "invite-timeout: must be greater than 0", true},
    {"SipRecordRouteNotBool", SIP_LISTENER "    sip: {record-route: 1}\n", 6, 25,
     "expected true or false", true},
    // --- dns (records on line 7 from column 11)
    {"DnsRecordType",
     DNS_LISTENER "    dns:\n      records:\n        - {name: a.example, type: CNAME, pool: p}\n",
     7, 35, R"("CNAME" is not one of: A, AAAA, MX, SRV)", true},
    {"DnsRecordTtlTooLarge",
     DNS_LISTENER
     "    dns:\n      records:\n        - {name: a.example, pool: p, ttl: 2147483648}\n",
     7, 43, "ttl: expected an integer 0..2147483647", true},
    {"DnsRecordTtlNegative",
     DNS_LISTENER "    dns:\n      records:\n        - {name: a.example, pool: p, ttl: -1}\n", 7,
     43, R"(got "-1")", true},
    {"DnsRecordPoolUndefined",
     DNS_LISTENER "    dns:\n      records:\n        - {name: a.example, pool: cas}\n", 7, 35,
     R"(listener "l" dns record #1: pool "cas" is not defined)", true},
    {"DnsRecordName",
     DNS_LISTENER "    dns:\n      records:\n        - {name: bad..example, pool: p}\n", 7, 18,
     R"("bad..example" is not a valid DNS name)", true},
    {"DnsRecordWithoutName",
     DNS_LISTENER "    dns:\n      records:\n        - {type: A, pool: p}\n", 7, 11,
     R"(listener "l" dns record #1 needs name)", true},
    {"DnsRecordWithoutPool", DNS_LISTENER "    dns:\n      records:\n        - {name: a.example}\n",
     7, 11, R"(listener "l" dns record #1 needs pool)", true},
    {"DnsPreferenceOnA",
     DNS_LISTENER "    dns:\n      records:\n        - {name: a.example, pool: p, preference: 5}\n",
     7, 38, "preference: only used with type: MX", true},
    {"DnsMaxAnswersZero",
     DNS_LISTENER "    dns:\n      records: [{name: a.example, pool: p}]\n      max-answers: 0\n",
     7, 20, "max-answers: expected an integer 1..64", true},
    {"DnsMaxAnswersTooMany",
     DNS_LISTENER "    dns:\n      records: [{name: a.example, pool: p}]\n      max-answers: 65\n",
     7, 20, "1..64", true},
    {"DnsWhenAllDown",
     DNS_LISTENER
     "    dns:\n      records: [{name: a.example, pool: p}]\n      when-all-down: some\n",
     7, 22, R"("some" is not one of: all, none)", true},
    {"DnsRotateNotBool",
     DNS_LISTENER "    dns:\n      records: [{name: a.example, pool: p}]\n      rotate: maybe\n", 7,
     15, "expected true or false", true},
    {"DnsMxRecordNeedsHostNames",
     DNS_LISTENER "    dns:\n      records:\n        - {name: example.com, type: MX, pool: q}\n", 7,
     11,
     R"(MX answers name each server, so every server of pool "q" needs a name that is a host name; not so for "10.0.0.2:25")",
     true},
    {"DnsSrvRecordNeedsHostNames",
     DNS_LISTENER "    dns:\n      records:\n        - name: _sip._tcp.example.com\n          "
                  "type: SRV\n          pool: q\n",
     7, 11, "SRV answers name each server", true},
};

#undef SMTP_LISTENER
#undef HTTP_LISTENER
#undef SIP_LISTENER
#undef DNS_LISTENER
#undef ROUTES
#undef CERTS

std::string CaseName(const ::testing::TestParamInfo<ErrorCase>& info) {
  return info.param.name;
}

INSTANTIATE_TEST_SUITE_P(Rules, ConfigErrorTest, ::testing::ValuesIn(kErrorCases), CaseName);
INSTANTIATE_TEST_SUITE_P(Sections, ConfigErrorTest, ::testing::ValuesIn(kSectionCases), CaseName);

// ------------------------------------------------------- reporting behaviour

TEST(ConfigLoader, CollectsAllErrorsInFileOrder) {
  // Listeners come first in the file but are checked after the pools; the
  // report is still in file order.
  const LoadResult r = load_config_string(yaml(R"(
listeners:
  l: {listen: ["0.0.0.0:25"], pool: nope}
pools:
  p:
    servers: [{address: 10.0.0.1:25, weight: 0}]
    retries: many
)"),
                                          "t.yaml");
  ASSERT_EQ(r.errors.size(), 3u) << dump(r);
  EXPECT_EQ(r.errors[0].mark.line, 2);
  EXPECT_THAT(r.errors[0].message, HasSubstr(R"(pool "nope" is not defined)"));
  EXPECT_EQ(r.errors[1].mark.line, 5);
  EXPECT_THAT(r.errors[1].message, HasSubstr("weight"));
  EXPECT_EQ(r.errors[2].mark.line, 6);
  EXPECT_THAT(r.errors[2].message, HasSubstr("retries"));
  EXPECT_FALSE(r.config);
}

TEST(ConfigLoader, ErrorTextHasFileLineColumn) {
  const LoadResult r = load_config_string("log:\n  levle: info\n", "conf/sb.yaml");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].file, "conf/sb.yaml");
  EXPECT_EQ(r.errors[0].to_string(),
            R"(conf/sb.yaml:2:3: unknown key "levle" in log (did you mean "level"?))");
}

TEST(ConfigLoader, YamlSyntaxErrorIsTheOnlyError) {
  const LoadResult r = load_config_string("workers: 0\nlog: {level: info\n", "t.yaml");
  ASSERT_EQ(r.errors.size(), 1u) << dump(r);
  EXPECT_THAT(r.errors[0].message, HasSubstr("YAML syntax error"));
  EXPECT_EQ(r.errors[0].mark.line, 3);
  EXPECT_EQ(r.errors[0].mark.column, 1);
}

TEST(ConfigLoader, MissingFile) {
  const LoadResult r = load_config_file("/nonexistent/switchboard.yaml");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_FALSE(r.config);
  EXPECT_EQ(r.errors[0].to_string(),
            "/nonexistent/switchboard.yaml:1:1: cannot read: No such file or directory");
}

TEST(ConfigLoader, LoadsFile) {
  const std::string path = ::testing::TempDir() + "/config_loader_test.yaml";
  {
    std::ofstream out(path);
    out << "workers: 3\nlog: {level: warn}\n";
  }
  const LoadResult r = load_config_file(path);
  ASSERT_TRUE(r.config) << dump(r);
  EXPECT_EQ(r.config->workers, 3);
  EXPECT_EQ(r.config->log.level, LogLevel::warn);
  std::filesystem::remove(path);

  const LoadResult bad = load_config_file(::testing::TempDir());
  ASSERT_EQ(bad.errors.size(), 1u);
  EXPECT_THAT(bad.errors[0].message, HasSubstr("is a directory"));
}

// ----------------------------------------------------- shipped examples load

TEST(ShippedExamples, ConfigsDirectoryLoadsCleanly) {
  const std::filesystem::path dir = SB_SOURCE_DIR "/configs";
  int files = 0;
  if (std::filesystem::is_directory(dir)) {
    for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
      if (!entry.is_regular_file() || entry.path().extension() != ".yaml") continue;
      ++files;
      const LoadResult r = load_config_file(entry.path().string());
      EXPECT_TRUE(r.errors.empty()) << dump(r);
    }
  }
  if (files == 0) GTEST_SKIP() << "no *.yaml under " << dir;
}

TEST(ShippedExamples, DocsExamplesLoadCleanly) {
  const std::filesystem::path dir = SB_SOURCE_DIR "/docs";
  int blocks = 0;
  ASSERT_TRUE(std::filesystem::is_directory(dir));
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".md") continue;
    std::ifstream in(entry.path());
    std::string line;
    std::string block;
    int line_no = 0;
    int block_start = 0;
    bool in_block = false;
    bool checked = false;
    while (std::getline(in, line)) {
      ++line_no;
      if (!in_block && line == "```yaml") {
        in_block = true;
        checked = false;
        block.clear();
        block_start = line_no + 1;
      } else if (in_block && line == "```") {
        in_block = false;
        if (!checked) continue;
        ++blocks;
        // Name the block by where it starts so failures point into the .md.
        const std::string where =
            fmt::format("{} (block at line {})", entry.path().string(), block_start);
        const LoadResult r = load_config_string(block, where);
        EXPECT_TRUE(r.errors.empty()) << dump(r);
      } else if (in_block) {
        if (block.empty() && line_no == block_start) checked = line == "# check: full";
        block += line + "\n";
      }
    }
  }
  // docs/configuration.md has four complete examples; fewer means the
  // extraction broke or the examples were lost.
  EXPECT_GE(blocks, 4);
}

}  // namespace
}  // namespace sb::config

namespace sb::config {
namespace {

// yaml-cpp's LoadAll never ended on this file (empty documents without end,
// each kept, until memory ran out): `check`, `run` and a reload hung. Found
// by the configuration loader's fuzzer.
TEST(ConfigErrors, AFileOfOneCommaIsAnErrorNotAHang) {
  const LoadResult result = load_config_string(",", "t.yaml");
  EXPECT_FALSE(result.config);
  EXPECT_FALSE(result.errors.empty());
}

}  // namespace
}  // namespace sb::config
