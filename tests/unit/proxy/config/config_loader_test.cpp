// The configuration loader (docs/configuration.md): valid examples of every section with
// their parsed values and defaults, and the typed readers. The failing cases
// are in config_errors_test.cpp.

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
      reuse-connection: false
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
  EXPECT_FALSE(h.reuse_connection);
  EXPECT_EQ(p.outlier.consecutive_failures, 0);
  EXPECT_EQ(p.outlier.ejection_time, minutes(1));
}

TEST(ConfigLoader, PoolWithoutHealthIsCheckedByTcp) {
  const Config c = load_ok("pools:\n  p: {servers: [{address: 10.0.0.1:25}]}\n");
  EXPECT_EQ(c.pools.at(0).health.check, CheckType::tcp);
  EXPECT_TRUE(c.pools.at(0).health.reuse_connection);
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
      spool-dir: /var/spool/switchboard
      max-recipients: 50
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
  EXPECT_EQ(l.smtp->spool_dir, "/var/spool/switchboard");
  EXPECT_EQ(l.smtp->max_recipients, 50u);
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
  EXPECT_EQ(h.response_timeout, seconds(3600));
  EXPECT_TRUE(h.retry_on.connect_failure);
  EXPECT_TRUE(h.retry_on.reset);
  EXPECT_FALSE(h.retry_on.status_503);
  EXPECT_EQ(h.h2.max_concurrent_streams, 100u);
  EXPECT_EQ(h.h2.initial_window_size, 1024u * 1024);
  EXPECT_EQ(h.h2.max_resets_per_second, 100u);
  const PoolConfig& p = c.pools.at(0);
  EXPECT_FALSE(p.tls);
  EXPECT_EQ(p.keepalive.max_idle, 16);
  EXPECT_EQ(p.keepalive.idle_timeout, seconds(30));
}

TEST(ConfigLoader, HttpTimeoutsRetriesAndPoolTls) {
  const Config c = load_ok(R"(
listeners:
  web:
    listen: ["0.0.0.0:443"]
    protocol: http
    tls: {certificates: [{cert: /c.pem, key: /k.pem}], handshake-timeout: 3s}
    http:
      routes: [{match: {host: "*.example.com"}, pool: p}]
      response-timeout: 90s
      retry-on: [503]
      h2: {max-concurrent-streams: 50, initial-window-size: 64KB, max-resets-per-second: 10}
pools:
  p:
    servers: [{address: 10.0.0.1:443}]
    tls: {sni: mail.example.com, verify: none, ca: /ca.pem}
    keepalive: {max-idle: 0, idle-timeout: 5s}
)");
  const ListenerConfig& l = c.listeners.at(0);
  EXPECT_EQ(l.tls->handshake_timeout, seconds(3));
  const HttpConfig& h = *l.http;
  EXPECT_EQ(h.routes.at(0).host, "*.example.com");
  EXPECT_EQ(h.response_timeout, seconds(90));
  EXPECT_FALSE(h.retry_on.connect_failure);
  EXPECT_FALSE(h.retry_on.reset);
  EXPECT_TRUE(h.retry_on.status_503);
  EXPECT_EQ(h.h2.max_concurrent_streams, 50u);
  EXPECT_EQ(h.h2.initial_window_size, 64'000u);
  EXPECT_EQ(h.h2.max_resets_per_second, 10u);
  const PoolConfig& p = c.pools.at(0);
  ASSERT_TRUE(p.tls);
  EXPECT_EQ(p.tls->sni, "mail.example.com");
  EXPECT_EQ(p.tls->verify, TlsVerify::none);
  EXPECT_EQ(p.tls->ca, "/ca.pem");
  EXPECT_EQ(p.keepalive.max_idle, 0);
  EXPECT_EQ(p.keepalive.idle_timeout, seconds(5));
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

}  // namespace
}  // namespace sb::config

namespace sb::config {
namespace {

TEST(ConfigLoader, ErrorsStopAtTheErrorLimit) {
  std::string text = "pools:\n  p:\n    servers:\n";
  for (int i = 0; i < 3000; ++i) text += "      - {address: \"not an address\"}\n";
  const LoadResult result = load_config_string(text, "t.yaml");
  ASSERT_FALSE(result.config);
  EXPECT_LE(result.errors.size(), YamlReader::kMaxErrors + 2);
  bool told = false;
  for (const auto& e : result.errors) {
    told = told || e.message.find("more than 1000 errors") != std::string::npos;
  }
  EXPECT_TRUE(told) << result.errors.size();
}

}  // namespace
}  // namespace sb::config
