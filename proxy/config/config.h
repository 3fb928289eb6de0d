#pragma once
// The typed, immutable configuration of docs/configuration.md. Produced only by the loader
// (config_loader.h); everything after loading reads these structs and never
// the YAML. Defaults here are the documented defaults.
//
// Every mapping keeps `marks`: key name -> position in the file, for keys that
// were written. Later stages (the runtime refusing a not-yet-implemented key,
// reload diagnostics) use them to point at the line that caused an error.

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "net/codec/cidr.h"

namespace sb::config {

using Duration = std::chrono::milliseconds;

// 1-based position in the configuration file; 0 = not from the file.
struct Mark {
  int line = 0;
  int column = 0;
};
using Marks = std::map<std::string, Mark, std::less<>>;

// IP:PORT, [IPv6]:PORT or HOSTNAME:PORT, as written.
struct HostPort {
  enum class Kind { ipv4, ipv6, hostname };
  std::string host;  // without brackets
  std::uint16_t port = 0;
  Kind kind = Kind::ipv4;
  Mark mark;
  std::string to_string() const;  // re-adds brackets for IPv6
  friend bool operator==(const HostPort& a, const HostPort& b) {
    return a.host == b.host && a.port == b.port && a.kind == b.kind;
  }
};

enum class LogLevel { trace, debug, info, warn, error, critical, off };
enum class LogFormat { text, json };

struct LogConfig {
  LogLevel level = LogLevel::info;
  LogFormat format = LogFormat::text;
  bool access = true;
  Marks marks;
};

// How the runtime moves connections, for measuring one way against another
// (docs/configuration.md, "tuning"). The defaults are what production runs.
enum class AcceptModel { per_worker, shared };
enum class RelayMode { automatic, copy, splice };

struct TuningConfig {
  // per-worker: one SO_REUSEPORT acceptor per worker; shared: one acceptor
  // that hands connections to the workers in turn.
  AcceptModel accept = AcceptModel::per_worker;
  // automatic: copy small exchanges, splice(2) bulk; copy, splice: one way.
  RelayMode relay = RelayMode::automatic;
  // Per-connection counters that only the metrics read (bytes relayed,
  // connect and response durations).
  bool connection_metrics = true;
  Marks marks;
  bool operator==(const TuningConfig& o) const {
    return accept == o.accept && relay == o.relay && connection_metrics == o.connection_metrics;
  }
};

struct AdminConfig {
  HostPort listen{"127.0.0.1", 9901, HostPort::Kind::ipv4, {}};
  std::string token_file;  // empty: POSTs need no token
  Marks marks;
};

struct ResolverConfig {
  std::vector<HostPort> servers;  // empty: the system's resolv.conf
  Duration timeout = std::chrono::seconds(2);
  int attempts = 2;
  Duration min_ttl = std::chrono::seconds(5);
  Duration max_ttl = std::chrono::seconds(300);
  Marks marks;
};

enum class Balance {
  round_robin,
  weighted_round_robin,
  least_connections,
  random_two_choices,
  source_ip,
  source_network,
  maglev,
  first_available,
};

enum class AdminState { enabled, drain, disabled };

struct ServerEntry {
  enum class Kind { address, srv, mx };
  Kind kind = Kind::address;
  HostPort address;         // kind == address
  std::string discovery;    // kind == srv: the SRV name; kind == mx: the domain
  std::uint16_t port = 25;  // kind == mx: port of the discovered hosts
  std::string name;         // default: the address as written
  int weight = 1;           // 1..256
  int priority = 0;         // >= 0, 0 is the first tier
  AdminState state = AdminState::enabled;
  Mark mark;
  Marks marks;
};

enum class CheckType { none, tcp, smtp, http, https, sip_options };

// Inclusive status range, e.g. 200-399.
struct StatusRange {
  int low = 200;
  int high = 399;
};

struct HealthConfig {
  CheckType check = CheckType::tcp;
  Duration interval = std::chrono::seconds(5);
  Duration timeout = std::chrono::seconds(2);
  int rise = 2;
  int fall = 3;
  std::uint16_t port = 0;  // 0 = the traffic port
  std::string helo = "switchboard.localdomain";
  bool starttls = false;
  std::string path = "/";
  std::string host;
  StatusRange expect_status;
  std::string expect_body;
  bool reuse_connection = true;  // http/https: keep a passing check's connection
  Mark mark;                     // of the `health:` key; 0 when the section is absent
  Marks marks;
};

struct OutlierConfig {
  int consecutive_failures = 5;  // 0 turns passive ejection off
  Duration ejection_time = std::chrono::seconds(30);
  Marks marks;
};

enum class ProxyProtocol { none, v1, v2 };
enum class SourceMode { proxy, client };

// http pools: TLS to the servers (docs/configuration.md, pool `tls:`).
enum class TlsVerify { required, none };

struct PoolTlsConfig {
  std::string sni;  // empty: the request's host
  TlsVerify verify = TlsVerify::required;
  std::string ca;  // empty: the system's trust store
  Mark mark;
  Marks marks;
};

// http pools: idle keep-alive connections kept per worker and server.
struct KeepaliveConfig {
  int max_idle = 16;  // 0: no connection is kept
  Duration idle_timeout = std::chrono::seconds(30);
  Marks marks;
};

struct PoolConfig {
  std::string name;
  Balance balance = Balance::round_robin;
  int source_prefix_v4 = 24;  // 0..32
  int source_prefix_v6 = 48;  // 0..128
  std::vector<ServerEntry> servers;
  Duration connect_timeout = std::chrono::seconds(3);
  int retries = 2;
  ProxyProtocol proxy_protocol = ProxyProtocol::none;
  SourceMode source = SourceMode::proxy;
  Duration slow_start = Duration::zero();
  HealthConfig health;
  OutlierConfig outlier;
  std::optional<PoolTlsConfig> tls;
  KeepaliveConfig keepalive;
  Mark mark;
  Marks marks;
};

enum class Protocol { tcp, smtp, http, sip, dns };

struct TlsCertificate {
  std::string cert;
  std::string key;
};

enum class VerifyClient { none, optional, required };

struct TlsConfig {
  std::vector<TlsCertificate> certificates;
  std::string min_version = "1.2";  // "1.2" | "1.3"
  std::vector<std::string> alpn = {"h2", "http/1.1"};
  std::string client_ca;
  VerifyClient verify_client = VerifyClient::none;
  Duration handshake_timeout = std::chrono::seconds(10);
  Mark mark;
  Marks marks;
};

enum class SmtpMode { passthrough, inspect };

struct SmtpConfig {
  SmtpMode mode = SmtpMode::passthrough;
  Duration banner_timeout = std::chrono::seconds(10);
  bool xclient = false;
  std::string hostname;
  std::uint64_t max_message_size = 50ull * 1000 * 1000;
  std::string spool_dir;  // empty: $TMPDIR, else /tmp
  std::size_t max_recipients = 1000;
  Mark mark;
  Marks marks;
};

struct HttpRoute {
  std::string path_prefix;  // empty: any path
  std::string host;         // empty: any host
  std::string pool;
  Mark mark;
};

enum class Affinity { none, cookie, source_ip };

// What a request is presented to the next server on (idempotent requests,
// before any response byte reached the client).
struct RetryOn {
  bool connect_failure = true;
  bool reset = true;
  bool status_503 = false;
};

struct Http2Config {
  std::uint32_t max_concurrent_streams = 100;
  std::uint64_t initial_window_size = 1024ull * 1024;
  std::uint32_t max_resets_per_second = 100;
  Mark mark;
  Marks marks;
};

struct HttpConfig {
  std::vector<HttpRoute> routes;
  Affinity affinity = Affinity::none;
  std::string cookie_name = "SWBSRV";
  Duration cookie_max_age = Duration::zero();
  bool forwarded_headers = true;
  Duration request_timeout = std::chrono::seconds(60);
  Duration response_timeout = std::chrono::seconds(3600);
  RetryOn retry_on;
  std::uint64_t max_header_size = 64ull * 1000;
  Http2Config h2;
  Mark mark;
  Marks marks;
};

enum class SipTransport { udp, tcp };

struct SipConfig {
  std::vector<SipTransport> transports = {SipTransport::udp, SipTransport::tcp};
  std::vector<StatusRange> failover_on = {{500, 599}, {408, 408}};
  Duration invite_timeout = std::chrono::seconds(4);
  bool record_route = true;
  // A call's Call-ID -> server mapping is forgotten after this (sooner: 32 s
  // after its BYE or a failed INVITE).
  Duration dialog_timeout = std::chrono::hours(12);
  Mark mark;
  Marks marks;
};

enum class RecordType { A, AAAA, MX, SRV };
enum class WhenAllDown { all, none };

struct DnsRecord {
  std::string name;  // lower case, no trailing dot
  RecordType type = RecordType::A;
  std::string pool;
  std::uint32_t ttl = 30;
  int preference = 10;  // MX only
  Mark mark;
};

struct DnsConfig {
  std::vector<DnsRecord> records;
  bool rotate = true;
  int max_answers = 8;
  WhenAllDown when_all_down = WhenAllDown::all;
  Mark mark;
  Marks marks;
};

struct ListenerConfig {
  std::string name;
  std::vector<HostPort> listen;
  Protocol protocol = Protocol::tcp;
  std::string pool;  // tcp, smtp, sip
  bool accept_proxy = false;
  // With accept_proxy: the socket peers trusted to send a PROXY header.
  std::vector<net::Cidr> proxy_from = {*net::Cidr::parse("127.0.0.0/8"),
                                       *net::Cidr::parse("::1/128")};
  Duration proxy_header_timeout = std::chrono::seconds(5);
  // IP_FREEBIND: bind the addresses even while this host does not hold them
  // (the backup of a VRRP pair, docs/high-availability.md).
  bool freebind = false;
  // tcp (and http): a client that sends nothing for this long is closed.
  Duration client_first_byte_timeout = std::chrono::seconds(30);
  std::vector<net::Cidr> allow;  // empty: everyone
  std::vector<net::Cidr> deny;
  std::uint32_t max_connections = 10000;
  std::uint32_t max_connections_per_source = 0;  // 0 = unlimited
  Duration idle_timeout = std::chrono::minutes(5);
  std::optional<TlsConfig> tls;
  std::optional<SmtpConfig> smtp;
  std::optional<HttpConfig> http;
  std::optional<SipConfig> sip;
  std::optional<DnsConfig> dns;
  Mark mark;
  Marks marks;
};

struct Config {
  int workers = 0;  // 0 = auto: one per core
  Duration shutdown_grace = std::chrono::seconds(30);
  LogConfig log;
  AdminConfig admin;
  ResolverConfig resolver;
  TuningConfig tuning;
  std::vector<PoolConfig> pools;          // in file order
  std::vector<ListenerConfig> listeners;  // in file order
  Marks marks;

  const PoolConfig* find_pool(std::string_view name) const;
};

// Names for messages and /status ("round-robin", "smtp", ...), as in the file.
std::string_view to_string(Balance);
std::string_view to_string(Protocol);
std::string_view to_string(CheckType);
std::string_view to_string(AdminState);
std::string_view to_string(ProxyProtocol);
std::string_view to_string(RelayMode);
std::string_view to_string(AcceptModel);

}  // namespace sb::config
