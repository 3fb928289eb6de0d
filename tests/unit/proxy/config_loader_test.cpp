// The configuration loader (SPEC §3): valid examples of every section with
// their parsed values and defaults, one failing case per validation rule with
// its exact position, and every shipped example (configs/, docs/) loading
// cleanly.

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

namespace sb::config {
namespace {

using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;
using ::testing::HasSubstr;

// Raw strings start with a newline for readability; line 1 is the next line.
std::string yaml(std::string_view raw) {
  if (!raw.empty() && raw.front() == '\n') raw.remove_prefix(1);
  return std::string(raw);
}

std::string dump(const LoadResult& result) {
  std::string out;
  for (const auto& e : result.errors) out += e.to_string() + "\n";
  return out;
}

Config load_ok(std::string_view raw) {
  LoadResult result = load_config_string(yaml(raw), "t.yaml");
  EXPECT_TRUE(result.errors.empty()) << dump(result);
  return result.config.value_or(Config{});
}

// ---------------------------------------------------------------- valid files

TEST(ConfigLoader, SpecMinimalExampleWithDefaults) {
  const Config c = load_ok(R"(
pools:
  relay:
    servers:
      - address: 10.0.0.11:25
      - address: 10.0.0.12:25
    health: {check: smtp}
listeners:
  relay-vip:
    listen: ["0.0.0.0:25"]
    protocol: smtp
    pool: relay
)");
  EXPECT_EQ(c.workers, 0);
  EXPECT_EQ(c.shutdown_grace, seconds(30));
  EXPECT_EQ(c.log.level, LogLevel::info);
  EXPECT_EQ(c.log.format, LogFormat::text);
  EXPECT_TRUE(c.log.access);
  EXPECT_EQ(c.admin.listen.to_string(), "127.0.0.1:9901");
  EXPECT_TRUE(c.admin.token_file.empty());
  EXPECT_TRUE(c.resolver.servers.empty());
  EXPECT_EQ(c.resolver.timeout, seconds(2));
  EXPECT_EQ(c.resolver.attempts, 2);
  EXPECT_EQ(c.resolver.min_ttl, seconds(5));
  EXPECT_EQ(c.resolver.max_ttl, seconds(300));

  ASSERT_EQ(c.pools.size(), 1u);
  const PoolConfig& p = c.pools[0];
  EXPECT_EQ(p.name, "relay");
  EXPECT_EQ(p.mark.line, 2);
  EXPECT_EQ(p.mark.column, 3);
  EXPECT_EQ(p.balance, Balance::round_robin);
  EXPECT_EQ(p.source_prefix_v4, 24);
  EXPECT_EQ(p.source_prefix_v6, 48);
  EXPECT_EQ(p.connect_timeout, seconds(3));
  EXPECT_EQ(p.retries, 2);
  EXPECT_EQ(p.proxy_protocol, ProxyProtocol::none);
  EXPECT_EQ(p.source, SourceMode::proxy);
  EXPECT_EQ(p.slow_start, milliseconds(0));
  EXPECT_EQ(p.outlier.consecutive_failures, 5);
  EXPECT_EQ(p.outlier.ejection_time, seconds(30));
  ASSERT_EQ(p.servers.size(), 2u);
  const ServerEntry& s = p.servers[1];
  EXPECT_EQ(s.kind, ServerEntry::Kind::address);
  EXPECT_EQ(s.address.host, "10.0.0.12");
  EXPECT_EQ(s.address.port, 25);
  EXPECT_EQ(s.address.kind, HostPort::Kind::ipv4);
  EXPECT_EQ(s.name, "10.0.0.12:25");  // default: the address as written
  EXPECT_EQ(s.weight, 1);
  EXPECT_EQ(s.priority, 0);
  EXPECT_EQ(s.state, AdminState::enabled);
  EXPECT_EQ(s.mark.line, 5);
  EXPECT_EQ(s.mark.column, 9);
  EXPECT_EQ(s.address.mark.line, 5);
  EXPECT_EQ(s.address.mark.column, 18);
  // health: given check, defaults for the rest.
  EXPECT_EQ(p.health.check, CheckType::smtp);
  EXPECT_EQ(p.health.interval, seconds(5));
  EXPECT_EQ(p.health.timeout, seconds(2));
  EXPECT_EQ(p.health.rise, 2);
  EXPECT_EQ(p.health.fall, 3);
  EXPECT_EQ(p.health.port, 0);
  EXPECT_EQ(p.health.helo, "switchboard.localdomain");
  EXPECT_EQ(p.health.path, "/");
  EXPECT_EQ(p.health.expect_status.low, 200);
  EXPECT_EQ(p.health.expect_status.high, 399);
  EXPECT_EQ(p.health.mark.line, 6);
  EXPECT_EQ(p.health.mark.column, 5);
  EXPECT_EQ(p.marks.at("servers").line, 3);

  ASSERT_EQ(c.listeners.size(), 1u);
  const ListenerConfig& l = c.listeners[0];
  EXPECT_EQ(l.name, "relay-vip");
  EXPECT_EQ(l.protocol, Protocol::smtp);
  EXPECT_EQ(l.pool, "relay");
  ASSERT_EQ(l.listen.size(), 1u);
  EXPECT_EQ(l.listen[0].to_string(), "0.0.0.0:25");
  EXPECT_EQ(l.listen[0].mark.line, 9);
  EXPECT_EQ(l.listen[0].mark.column, 14);
  EXPECT_FALSE(l.accept_proxy);
  EXPECT_EQ(l.proxy_header_timeout, seconds(5));
  EXPECT_TRUE(l.allow.empty());
  EXPECT_TRUE(l.deny.empty());
  EXPECT_EQ(l.max_connections, 10000u);
  EXPECT_EQ(l.max_connections_per_source, 0u);
  EXPECT_EQ(l.idle_timeout, minutes(5));
  EXPECT_FALSE(l.tls);
  ASSERT_TRUE(l.smtp);  // protocol smtp without smtp: gets the defaults
  EXPECT_EQ(l.smtp->mode, SmtpMode::passthrough);
  EXPECT_EQ(l.smtp->banner_timeout, seconds(10));
  EXPECT_FALSE(l.smtp->xclient);
  EXPECT_EQ(l.smtp->max_message_size, 50'000'000u);
  EXPECT_FALSE(l.http || l.sip || l.dns);
  EXPECT_EQ(l.marks.at("protocol").line, 10);
  EXPECT_EQ(l.marks.at("protocol").column, 5);
  EXPECT_EQ(c.marks.at("listeners").line, 7);
  EXPECT_EQ(c.find_pool("relay"), &c.pools[0]);
  EXPECT_EQ(c.find_pool("nope"), nullptr);
}

TEST(ConfigLoader, TopLevelSections) {
  const Config c = load_ok(R"(
workers: 4
shutdown-grace: 1m
log: {level: debug, format: json, access: false}
admin: {listen: "[::1]:9000", token-file: /etc/sb/token}
resolver:
  servers: ["127.0.0.1:53", "[2001:db8::53]:5353"]
  timeout: 500ms
  attempts: 10
  min-ttl: 0s
  max-ttl: 1h
)");
  EXPECT_EQ(c.workers, 4);
  EXPECT_EQ(c.shutdown_grace, minutes(1));
  EXPECT_EQ(c.log.level, LogLevel::debug);
  EXPECT_EQ(c.log.format, LogFormat::json);
  EXPECT_FALSE(c.log.access);
  EXPECT_EQ(c.admin.listen.kind, HostPort::Kind::ipv6);
  EXPECT_EQ(c.admin.listen.host, "::1");
  EXPECT_EQ(c.admin.listen.to_string(), "[::1]:9000");
  EXPECT_EQ(c.admin.token_file, "/etc/sb/token");
  ASSERT_EQ(c.resolver.servers.size(), 2u);
  EXPECT_EQ(c.resolver.servers[1].port, 5353);
  EXPECT_EQ(c.resolver.timeout, milliseconds(500));
  EXPECT_EQ(c.resolver.attempts, 10);
  EXPECT_EQ(c.resolver.min_ttl, milliseconds(0));
  EXPECT_EQ(c.resolver.max_ttl, std::chrono::hours(1));
  EXPECT_EQ(c.log.marks.at("format").column, 21);
  EXPECT_TRUE(c.pools.empty());
  EXPECT_TRUE(c.listeners.empty());  // no listeners is valid
}

TEST(ConfigLoader, WorkersAuto) {
  EXPECT_EQ(load_ok("workers: auto\n").workers, 0);
}

TEST(ConfigLoader, PoolWithEveryKey) {
  const Config c = load_ok(R"(
pools:
  edge:
    balance: source-network
    source-network-prefix: {ipv4: 16, ipv6: 64}
    servers:
      - {address: "[2001:db8::1]:2525", name: hub1, weight: 256, priority: 1000, state: drain}
      - {address: mail.example.com:25, state: disabled}
      - srv: _smtp._tcp.example.com
      - {mx: example.com, port: 2525}
    connect-timeout: 250ms
    retries: 0
    proxy-protocol: v2
    source: client
    slow-start: 2m
    health:
      check: https
      interval: 10s
      timeout: 1s
      rise: 100
      fall: 1
      port: 8443
      helo: lb.example.com
      starttls: true
      path: /owa/healthcheck.htm
      host: mail.example.com
      expect-status: 200
      expect-body: ""
    outlier: {consecutive-failures: 0, ejection-time: 1m}
)");
  ASSERT_EQ(c.pools.size(), 1u);
  const PoolConfig& p = c.pools[0];
  EXPECT_EQ(p.balance, Balance::source_network);
  EXPECT_EQ(p.source_prefix_v4, 16);
  EXPECT_EQ(p.source_prefix_v6, 64);
  EXPECT_EQ(p.marks.at("source-network-prefix.ipv6").column, 39);
  ASSERT_EQ(p.servers.size(), 4u);
  EXPECT_EQ(p.servers[0].address.kind, HostPort::Kind::ipv6);
  EXPECT_EQ(p.servers[0].address.host, "2001:db8::1");
  EXPECT_EQ(p.servers[0].address.to_string(), "[2001:db8::1]:2525");
  EXPECT_EQ(p.servers[0].name, "hub1");
  EXPECT_EQ(p.servers[0].weight, 256);
  EXPECT_EQ(p.servers[0].priority, 1000);
  EXPECT_EQ(p.servers[0].state, AdminState::drain);
  EXPECT_EQ(p.servers[0].marks.at("weight").column, 53);
  EXPECT_EQ(p.servers[1].address.kind, HostPort::Kind::hostname);
  EXPECT_EQ(p.servers[1].name, "mail.example.com:25");
  EXPECT_EQ(p.servers[1].state, AdminState::disabled);
  EXPECT_EQ(p.servers[2].kind, ServerEntry::Kind::srv);
  EXPECT_EQ(p.servers[2].discovery, "_smtp._tcp.example.com");
  EXPECT_EQ(p.servers[2].name, "_smtp._tcp.example.com");
  EXPECT_EQ(p.servers[3].kind, ServerEntry::Kind::mx);
  EXPECT_EQ(p.servers[3].discovery, "example.com");
  EXPECT_EQ(p.servers[3].port, 2525);
  EXPECT_EQ(p.connect_timeout, milliseconds(250));
  EXPECT_EQ(p.retries, 0);
  EXPECT_EQ(p.proxy_protocol, ProxyProtocol::v2);
  EXPECT_EQ(p.source, SourceMode::client);
  EXPECT_EQ(p.slow_start, minutes(2));
  const HealthConfig& h = p.health;
  EXPECT_EQ(h.check, CheckType::https);
  EXPECT_EQ(h.interval, seconds(10));
  EXPECT_EQ(h.timeout, seconds(1));
  EXPECT_EQ(h.rise, 100);
  EXPECT_EQ(h.fall, 1);
  EXPECT_EQ(h.port, 8443);
  EXPECT_EQ(h.helo, "lb.example.com");
  EXPECT_TRUE(h.starttls);
  EXPECT_EQ(h.path, "/owa/healthcheck.htm");
  EXPECT_EQ(h.host, "mail.example.com");
  EXPECT_EQ(h.expect_status.low, 200);
  EXPECT_EQ(h.expect_status.high, 200);
  EXPECT_EQ(h.expect_body, "");
  EXPECT_EQ(h.marks.at("expect-body").line, 27);
  EXPECT_EQ(p.outlier.consecutive_failures, 0);
  EXPECT_EQ(p.outlier.ejection_time, minutes(1));
}

TEST(ConfigLoader, PoolWithoutHealthIsCheckedByTcp) {
  const Config c = load_ok("pools:\n  p: {servers: [{address: 10.0.0.1:25}]}\n");
  EXPECT_EQ(c.pools.at(0).health.check, CheckType::tcp);
  EXPECT_EQ(c.pools.at(0).health.interval, seconds(5));
  EXPECT_EQ(c.pools.at(0).health.mark.line, 0);  // absent section
}

TEST(ConfigLoader, TcpListenerWithEveryKey) {
  const Config c = load_ok(R"(
listeners:
  relay-vip:
    listen: ["0.0.0.0:25", "[::]:25"]
    protocol: tcp
    pool: relay
    accept-proxy: true
    proxy-header-timeout: 3s
    allow: ["10.0.0.0/8", "2001:db8::/32"]
    deny: [10.9.0.0/16]
    max-connections: 4294967295
    max-connections-per-source: 20
    idle-timeout: 1h
pools:
  relay: {servers: [{address: 10.0.0.1:25}]}
)");
  const ListenerConfig& l = c.listeners.at(0);
  EXPECT_EQ(l.protocol, Protocol::tcp);
  ASSERT_EQ(l.listen.size(), 2u);
  EXPECT_EQ(l.listen[1].kind, HostPort::Kind::ipv6);
  EXPECT_EQ(l.listen[1].host, "::");
  EXPECT_TRUE(l.accept_proxy);
  EXPECT_EQ(l.proxy_header_timeout, seconds(3));
  ASSERT_EQ(l.allow.size(), 2u);
  EXPECT_EQ(l.allow[1].prefix(), 32);
  ASSERT_EQ(l.deny.size(), 1u);
  EXPECT_EQ(l.deny[0].prefix(), 16);
  EXPECT_EQ(l.max_connections, 4294967295u);
  EXPECT_EQ(l.max_connections_per_source, 20u);
  EXPECT_EQ(l.idle_timeout, std::chrono::hours(1));
  EXPECT_FALSE(l.tls || l.smtp || l.http || l.sip || l.dns);
  EXPECT_EQ(l.mark.line, 2);
}

TEST(ConfigLoader, SmtpListenerWithTls) {
  const Config c = load_ok(R"(
listeners:
  relay:
    listen: ["10.0.0.10:587"]
    protocol: smtp
    pool: hub
    tls:
      certificates: [{cert: /c.pem, key: /k.pem}, {cert: /c2.pem, key: /k2.pem}]
      min-version: "1.3"
      alpn: [smtp]
      client-ca: /ca.pem
      verify-client: required
    smtp:
      mode: inspect
      banner-timeout: 30s
      xclient: true
      hostname: relay.example.com
      max-message-size: 64MiB
pools:
  hub: {servers: [{address: 10.0.0.1:25}]}
)");
  const ListenerConfig& l = c.listeners.at(0);
  ASSERT_TRUE(l.tls);
  ASSERT_EQ(l.tls->certificates.size(), 2u);
  EXPECT_EQ(l.tls->certificates[1].cert, "/c2.pem");
  EXPECT_EQ(l.tls->certificates[1].key, "/k2.pem");
  EXPECT_EQ(l.tls->min_version, "1.3");
  EXPECT_EQ(l.tls->alpn, std::vector<std::string>{"smtp"});
  EXPECT_EQ(l.tls->client_ca, "/ca.pem");
  EXPECT_EQ(l.tls->verify_client, VerifyClient::required);
  EXPECT_EQ(l.tls->mark.line, 6);
  ASSERT_TRUE(l.smtp);
  EXPECT_EQ(l.smtp->mode, SmtpMode::inspect);
  EXPECT_EQ(l.smtp->banner_timeout, seconds(30));
  EXPECT_TRUE(l.smtp->xclient);
  EXPECT_EQ(l.smtp->hostname, "relay.example.com");
  EXPECT_EQ(l.smtp->max_message_size, 64u * 1024 * 1024);
  EXPECT_EQ(l.smtp->mark.line, 12);
  EXPECT_EQ(l.smtp->marks.at("xclient").line, 15);
}

TEST(ConfigLoader, HttpListener) {
  const Config c = load_ok(R"(
listeners:
  cas:
    listen: ["10.0.1.10:443"]
    protocol: http
    tls: {certificates: [{cert: /c.pem, key: /k.pem}]}
    http:
      routes:
        - {match: {path-prefix: /owa, host: mail.example.com}, pool: owa}
        - match: {path-prefix: /ews}
          pool: cas
        - {pool: cas}
      affinity: cookie
      cookie: {name: SESSION_ID, max-age: 1h}
      forwarded-headers: false
      request-timeout: 2m
      max-header-size: 32KB
pools:
  cas: {servers: [{address: 10.0.0.1:443}]}
  owa: {servers: [{address: 10.0.0.2:443}]}
)");
  const ListenerConfig& l = c.listeners.at(0);
  ASSERT_TRUE(l.tls);
  EXPECT_EQ(l.tls->min_version, "1.2");  // defaults
  EXPECT_EQ(l.tls->alpn, (std::vector<std::string>{"h2", "http/1.1"}));
  EXPECT_EQ(l.tls->verify_client, VerifyClient::none);
  ASSERT_TRUE(l.http);
  ASSERT_EQ(l.http->routes.size(), 3u);
  EXPECT_EQ(l.http->routes[0].path_prefix, "/owa");
  EXPECT_EQ(l.http->routes[0].host, "mail.example.com");
  EXPECT_EQ(l.http->routes[0].pool, "owa");
  EXPECT_EQ(l.http->routes[1].path_prefix, "/ews");
  EXPECT_EQ(l.http->routes[1].host, "");
  EXPECT_EQ(l.http->routes[1].mark.line, 9);
  EXPECT_EQ(l.http->routes[1].mark.column, 11);
  EXPECT_EQ(l.http->routes[2].path_prefix, "");
  EXPECT_EQ(l.http->affinity, Affinity::cookie);
  EXPECT_EQ(l.http->cookie_name, "SESSION_ID");
  EXPECT_EQ(l.http->cookie_max_age, std::chrono::hours(1));
  EXPECT_FALSE(l.http->forwarded_headers);
  EXPECT_EQ(l.http->request_timeout, minutes(2));
  EXPECT_EQ(l.http->max_header_size, 32'000u);
  EXPECT_TRUE(l.pool.empty());
}

TEST(ConfigLoader, HttpDefaults) {
  const Config c = load_ok(R"(
listeners:
  web: {listen: ["0.0.0.0:80"], protocol: http, http: {routes: [{pool: p}]}}
pools:
  p: {servers: [{address: 10.0.0.1:80}]}
)");
  const HttpConfig& h = *c.listeners.at(0).http;
  EXPECT_EQ(h.affinity, Affinity::none);
  EXPECT_EQ(h.cookie_name, "SWBSRV");
  EXPECT_EQ(h.cookie_max_age, milliseconds(0));
  EXPECT_TRUE(h.forwarded_headers);
  EXPECT_EQ(h.request_timeout, seconds(60));
  EXPECT_EQ(h.max_header_size, 64'000u);
}

TEST(ConfigLoader, SipListener) {
  const Config c = load_ok(R"(
listeners:
  um:
    listen: ["10.0.2.10:5060"]
    protocol: sip
    pool: um
    sip: {transports: [tcp], failover-on: ["503", "480-486", 600-699], invite-timeout: 2s, record-route: false}
  um-default: {listen: ["10.0.2.10:5061"], protocol: sip, pool: um}
pools:
  um: {servers: [{address: 10.0.2.11:5060}]}
)");
  const SipConfig& s = *c.listeners.at(0).sip;
  EXPECT_EQ(s.transports, std::vector<SipTransport>{SipTransport::tcp});
  ASSERT_EQ(s.failover_on.size(), 3u);
  EXPECT_EQ(s.failover_on[0].low, 503);
  EXPECT_EQ(s.failover_on[0].high, 503);
  EXPECT_EQ(s.failover_on[1].low, 480);
  EXPECT_EQ(s.failover_on[1].high, 486);
  EXPECT_EQ(s.failover_on[2].high, 699);
  EXPECT_EQ(s.invite_timeout, seconds(2));
  EXPECT_FALSE(s.record_route);
  ASSERT_TRUE(c.listeners.at(1).sip);  // defaults without a sip: section
  const SipConfig& d = *c.listeners.at(1).sip;
  EXPECT_EQ(d.transports, (std::vector<SipTransport>{SipTransport::udp, SipTransport::tcp}));
  ASSERT_EQ(d.failover_on.size(), 2u);
  EXPECT_EQ(d.failover_on[0].low, 500);
  EXPECT_EQ(d.failover_on[1].low, 408);
  EXPECT_EQ(d.invite_timeout, seconds(4));
  EXPECT_TRUE(d.record_route);
  EXPECT_EQ(d.mark.line, 0);
}

TEST(ConfigLoader, DnsListener) {
  const Config c = load_ok(R"(
listeners:
  dns:
    listen: ["10.0.3.10:53", "[2001:db8::53]:53"]
    protocol: dns
    dns:
      records:
        - {name: Mail.Example.COM., type: A, pool: cas, ttl: 0}
        - {name: example.com, type: MX, pool: edge, ttl: 2147483647, preference: 5}
        - {name: _sip._tcp.um.example.com, type: SRV, pool: um}
        - {name: v6.example.com, type: AAAA, pool: cas}
        - {name: default.example.com, pool: cas}
      rotate: false
      max-answers: 64
      when-all-down: none
pools:
  cas: {servers: [{address: 10.0.1.1:443}]}
  edge: {servers: [{address: 10.0.0.1:25, name: mx1.example.com}, {mx: example.net}]}
  um: {servers: [{address: um1.example.com:5060, name: um1.example.com}]}
)");
  const DnsConfig& d = *c.listeners.at(0).dns;
  ASSERT_EQ(d.records.size(), 5u);
  EXPECT_EQ(d.records[0].name, "mail.example.com");
  EXPECT_EQ(d.records[0].type, RecordType::A);
  EXPECT_EQ(d.records[0].ttl, 0u);
  EXPECT_EQ(d.records[1].type, RecordType::MX);
  EXPECT_EQ(d.records[1].pool, "edge");
  EXPECT_EQ(d.records[1].ttl, 2147483647u);
  EXPECT_EQ(d.records[1].preference, 5);
  EXPECT_EQ(d.records[2].type, RecordType::SRV);
  EXPECT_EQ(d.records[2].ttl, 30u);  // default
  EXPECT_EQ(d.records[2].preference, 10);
  EXPECT_EQ(d.records[3].type, RecordType::AAAA);
  EXPECT_EQ(d.records[4].type, RecordType::A);  // default type
  EXPECT_EQ(d.records[1].mark.line, 8);
  EXPECT_EQ(d.records[1].mark.column, 11);
  EXPECT_FALSE(d.rotate);
  EXPECT_EQ(d.max_answers, 64);
  EXPECT_EQ(d.when_all_down, WhenAllDown::none);
}

TEST(ConfigLoader, EnumNamesRoundTrip) {
  // to_string gives the spelling of the file, which must parse back.
  for (std::string_view b :
       {"round-robin", "weighted-round-robin", "least-connections", "random-two-choices",
        "source-ip", "source-network", "maglev", "first-available"}) {
    const Config c =
        load_ok(fmt::format("pools:\n  p: {{balance: {}, servers: [{{address: "
                            "10.0.0.1:1}}]}}\n",
                            b));
    EXPECT_EQ(to_string(c.pools.at(0).balance), b);
  }
  for (std::string_view check : {"none", "tcp", "smtp", "http", "https", "sip-options"}) {
    const Config c = load_ok(fmt::format(
        "pools:\n  p: {{health: {{check: {}}}, servers: [{{address: 10.0.0.1:1}}]}}\n", check));
    EXPECT_EQ(to_string(c.pools.at(0).health.check), check);
  }
  for (std::string_view state : {"enabled", "drain", "disabled"}) {
    const Config c = load_ok(
        fmt::format("pools:\n  p: {{servers: [{{address: 10.0.0.1:1, state: {}}}]}}\n", state));
    EXPECT_EQ(to_string(c.pools.at(0).servers.at(0).state), state);
  }
  for (std::string_view pp : {"none", "v1", "v2"}) {
    const Config c = load_ok(fmt::format(
        "pools:\n  p: {{proxy-protocol: {}, servers: [{{address: 10.0.0.1:1}}]}}\n", pp));
    EXPECT_EQ(to_string(c.pools.at(0).proxy_protocol), pp);
  }
  EXPECT_EQ(to_string(Protocol::tcp), "tcp");
  EXPECT_EQ(to_string(Protocol::smtp), "smtp");
  EXPECT_EQ(to_string(Protocol::http), "http");
  EXPECT_EQ(to_string(Protocol::sip), "sip");
  EXPECT_EQ(to_string(Protocol::dns), "dns");
}

TEST(YamlReader, Durations) {
  EXPECT_EQ(parse_duration("250ms").value, milliseconds(250));
  EXPECT_EQ(parse_duration("5s").value, seconds(5));
  EXPECT_EQ(parse_duration("2m").value, minutes(2));
  EXPECT_EQ(parse_duration("1h").value, std::chrono::hours(1));
  EXPECT_EQ(parse_duration("0").value, milliseconds(0));
  EXPECT_FALSE(parse_duration("5").value);
  EXPECT_FALSE(parse_duration("1.5s").value);
  EXPECT_FALSE(parse_duration("5 s").value);
  EXPECT_FALSE(parse_duration("-1s").value);
  EXPECT_FALSE(parse_duration("99999999999999h").value);
  EXPECT_EQ(format_duration(minutes(5)), "5m");
  EXPECT_EQ(format_duration(milliseconds(1500)), "1500ms");
}

TEST(YamlReader, Sizes) {
  EXPECT_EQ(parse_size("512B").value, 512u);
  EXPECT_EQ(parse_size("64KB").value, 64'000u);
  EXPECT_EQ(parse_size("64KiB").value, 65'536u);
  EXPECT_EQ(parse_size("50MB").value, 50'000'000u);
  EXPECT_EQ(parse_size("1GB").value, 1'000'000'000u);
  EXPECT_EQ(parse_size("1GiB").value, 1024u * 1024 * 1024);
  EXPECT_EQ(parse_size("2 mb").value, 2'000'000u);
  EXPECT_FALSE(parse_size("64").value);
  EXPECT_FALSE(parse_size("64XB").value);
  EXPECT_FALSE(parse_size("99999999999TB").value);
}

TEST(YamlReader, AddressesAndNames) {
  EXPECT_EQ(parse_host_port("mail.example.com:25", HostRule::any).value->kind,
            HostPort::Kind::hostname);
  EXPECT_FALSE(parse_host_port("mail.example.com:25", HostRule::ip_only).value);
  EXPECT_FALSE(parse_host_port("[fe80::1%eth0]:25", HostRule::any).value);
  EXPECT_FALSE(parse_host_port("10.0.0.1:+25", HostRule::any).value);
  EXPECT_FALSE(parse_host_port("-bad.example.com:25", HostRule::any).value);
  EXPECT_TRUE(is_valid_hostname("a-b.example.com."));
  EXPECT_FALSE(is_valid_hostname(std::string(64, 'a') + ".com"));
  EXPECT_FALSE(is_valid_hostname("_sip._tcp.example.com"));
  EXPECT_TRUE(is_valid_dns_name("_sip._tcp.example.com"));
  EXPECT_EQ(closest_key("conect-timeout", std::vector<std::string_view>{"connect-timeout"}),
            "connect-timeout");
  EXPECT_FALSE(closest_key("xyz", std::vector<std::string_view>{"connect-timeout"}));
}

// ------------------------------------------------------------ failing files

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
     HTTP_LISTENER "    http:\n      routes: [{match: {host: \"*.example\"}, pool: p}]\n", 6, 31,
     R"("*.example" is not a valid host name)", true},
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
