// Pools: balance, servers, health, outlier (docs/configuration.md "A pool").

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "net/codec/escape.h"
#include "proxy/config/config_loader_internal.h"

namespace sb::config::detail {
namespace {

constexpr std::string_view kPoolKeys[] = {
    "balance", "source-network-prefix",
    "servers", "connect-timeout",
    "retries", "proxy-protocol",
    "source",  "slow-start",
    "health",  "outlier",
    "tls",     "keepalive",
};
constexpr std::string_view kPoolTlsKeys[] = {"sni", "verify", "ca"};
constexpr std::string_view kKeepaliveKeys[] = {"max-idle", "idle-timeout"};
constexpr EnumName<TlsVerify> kTlsVerify[] = {
    {"required", TlsVerify::required},
    {"none", TlsVerify::none},
};
constexpr std::string_view kPrefixKeys[] = {"ipv4", "ipv6"};
constexpr std::string_view kServerKeys[] = {"address", "srv",    "mx",       "port",
                                            "name",    "weight", "priority", "state"};
constexpr std::string_view kHealthKeys[] = {
    "check",         "interval",    "timeout",          "rise", "fall",
    "port",          "helo",        "starttls",         "path", "host",
    "expect-status", "expect-body", "reuse-connection",
};
constexpr std::string_view kOutlierKeys[] = {"consecutive-failures", "ejection-time"};

constexpr EnumName<Balance> kBalances[] = {
    {"round-robin", Balance::round_robin},
    {"weighted-round-robin", Balance::weighted_round_robin},
    {"least-connections", Balance::least_connections},
    {"random-two-choices", Balance::random_two_choices},
    {"source-ip", Balance::source_ip},
    {"source-network", Balance::source_network},
    {"maglev", Balance::maglev},
    {"first-available", Balance::first_available},
};
constexpr EnumName<ProxyProtocol> kProxyProtocols[] = {
    {"none", ProxyProtocol::none},
    {"v1", ProxyProtocol::v1},
    {"v2", ProxyProtocol::v2},
};
constexpr EnumName<SourceMode> kSourceModes[] = {
    {"proxy", SourceMode::proxy},
    {"client", SourceMode::client},
};
constexpr EnumName<AdminState> kAdminStates[] = {
    {"enabled", AdminState::enabled},
    {"drain", AdminState::drain},
    {"disabled", AdminState::disabled},
};
constexpr EnumName<CheckType> kCheckTypes[] = {
    {"none", CheckType::none}, {"tcp", CheckType::tcp},     {"smtp", CheckType::smtp},
    {"http", CheckType::http}, {"https", CheckType::https}, {"sip-options", CheckType::sip_options},
};

// "200" or "200-399": the HTTP statuses a health check accepts.
std::optional<StatusRange> parse_status_range(std::string_view text) {
  const std::size_t dash = text.find('-');
  const std::string_view low_text = text.substr(0, dash);
  const std::string_view high_text =
      dash == std::string_view::npos ? low_text : text.substr(dash + 1);
  auto number = [](std::string_view t) -> std::optional<int> {
    if (t.size() != 3 ||
        !std::all_of(t.begin(), t.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return std::nullopt;
    }
    return (t[0] - '0') * 100 + (t[1] - '0') * 10 + (t[2] - '0');
  };
  const auto low = number(low_text);
  const auto high = number(high_text);
  if (!low || !high || *low < 100 || *high > 599 || *low > *high) return std::nullopt;
  return StatusRange{*low, *high};
}

// Server names end up in metric labels and in admin URLs
// (/pools/{pool}/servers/{server}/drain), so '/' and blanks are refused.
bool is_valid_server_name(std::string_view name) {
  return !name.empty() && std::none_of(name.begin(), name.end(), [](char c) {
    return c == '/' || c == ' ' || c == '\t' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
  });
}

// An http check sends `path` and `host` as they are, in its request line and
// Host header: a CR or LF would end the line early (and could add a header
// of the file's making), a space would split the request line.
bool fits_in_request(std::string_view text) {
  return std::none_of(text.begin(), text.end(), [](char c) {
    return c == ' ' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
  });
}

std::string not_in_request(std::string_view text) {
  return fmt::format("\"{}\" must not contain spaces or control characters (CR, LF, tab, ...)",
                     net::escape_bytes(text));
}

void load_health(YamlReader& r, const std::string& pool_ctx, const Field& field,
                 HealthConfig& health) {
  health.mark = field.key_mark;
  const std::string ctx = pool_ctx + " health";
  r.for_each_entry(field, ctx, "in " + ctx, kHealthKeys, &health.marks, "", [&](const Field& f) {
    if (f.key == "check") {
      set(r.read_enum<CheckType>(f, kCheckTypes), health.check);
    } else if (f.key == "interval") {
      set(r.read_duration(f, Min::positive), health.interval);
    } else if (f.key == "timeout") {
      set(r.read_duration(f, Min::positive), health.timeout);
    } else if (f.key == "rise") {
      set_int<int>(r.read_int(f, 1, 100), health.rise);
    } else if (f.key == "fall") {
      set_int<int>(r.read_int(f, 1, 100), health.fall);
    } else if (f.key == "port") {
      set_int<std::uint16_t>(r.read_int(f, 0, 65535), health.port);
    } else if (f.key == "helo") {
      set(r.read_hostname(f), health.helo);
    } else if (f.key == "starttls") {
      set(r.read_bool(f), health.starttls);
    } else if (f.key == "path") {
      if (auto path = r.read_string(f)) {
        if (path->front() != '/') {
          r.error(f, fmt::format("\"{}\" must start with \"/\"", net::escape_bytes(*path)));
        } else if (!fits_in_request(*path)) {
          r.error(f, not_in_request(*path) + "; percent-encode them (%20, %0D)");
        } else {
          health.path = *path;
        }
      }
    } else if (f.key == "host") {
      if (auto host = r.read_string(f)) {
        if (fits_in_request(*host)) {
          health.host = *host;
        } else {
          r.error(f, not_in_request(*host));
        }
      }
    } else if (f.key == "expect-status") {
      if (r.expect_scalar(f, "a status like 200 or a range like 200-399")) {
        if (auto range = parse_status_range(f.value.Scalar())) {
          health.expect_status = *range;
        } else {
          r.error(f, fmt::format("expected a status like 200 or a range like 200-399 within "
                                 "100..599, got \"{}\"",
                                 f.value.Scalar()));
        }
      }
    } else if (f.key == "expect-body") {
      set(r.read_string(f, /*allow_empty=*/true), health.expect_body);
    } else if (f.key == "reuse-connection") {
      set(r.read_bool(f), health.reuse_connection);
    }
  });
}

void load_outlier(YamlReader& r, const std::string& pool_ctx, const Field& field,
                  OutlierConfig& outlier) {
  const std::string ctx = pool_ctx + " outlier";
  r.for_each_entry(field, ctx, "in " + ctx, kOutlierKeys, &outlier.marks, "", [&](const Field& f) {
    if (f.key == "consecutive-failures") {
      set_int<int>(r.read_int(f, 0, 1000), outlier.consecutive_failures);
    } else if (f.key == "ejection-time") {
      set(r.read_duration(f, Min::positive), outlier.ejection_time);
    }
  });
}

// One entry of `servers:`. Returns nothing when the entry names no server at
// all (the error is reported).
std::optional<ServerEntry> load_server(YamlReader& r, const std::string& pool_ctx, int index,
                                       const Field& item) {
  const Field as_item{pool_ctx, fmt::format("server #{}", index), item.key_mark, item.value};
  if (!r.expect_map(as_item)) return std::nullopt;
  const std::string ctx = fmt::format("{} server #{}", pool_ctx, index);
  ServerEntry server;
  server.mark = item.key_mark;
  std::string kind_key;    // the first of address / srv / mx
  std::string as_written;  // the default name
  std::optional<Field> port_field;
  r.for_each_entry(item, ctx, "in " + ctx, kServerKeys, &server.marks, "", [&](const Field& f) {
    if (f.key == "address" || f.key == "srv" || f.key == "mx") {
      if (!kind_key.empty()) {
        r.error_at_key(f, fmt::format("only one of address, srv and mx may be given (this "
                                      "server already has {})",
                                      kind_key));
        return;
      }
      kind_key = f.key;
      if (f.key == "address") {
        server.kind = ServerEntry::Kind::address;
        if (auto address = r.read_address(f, HostRule::any)) {
          server.address = *address;
          as_written = f.value.Scalar();
        }
      } else {
        server.kind = f.key == "srv" ? ServerEntry::Kind::srv : ServerEntry::Kind::mx;
        if (auto name = r.read_string(f)) {
          // SRV owner names carry _service._proto labels; MX domains are host names.
          const bool ok = f.key == "srv" ? is_valid_dns_name(*name) : is_valid_hostname(*name);
          if (!ok) {
            r.error(f, fmt::format("\"{}\" is not a valid {}", *name,
                                   f.key == "srv" ? "DNS name" : "domain name"));
          } else {
            server.discovery = *name;
            as_written = *name;
          }
        }
      }
    } else if (f.key == "port") {
      port_field = f;
      set_int<std::uint16_t>(r.read_int(f, 1, 65535), server.port);
    } else if (f.key == "name") {
      if (auto name = r.read_string(f)) {
        if (!is_valid_server_name(*name)) {
          r.error(f,
                  fmt::format("\"{}\" may not contain \"/\", blanks or control characters", *name));
        } else {
          server.name = *name;
        }
      }
    } else if (f.key == "weight") {
      set_int<int>(r.read_int(f, 1, 256), server.weight);
    } else if (f.key == "priority") {
      set_int<int>(r.read_int(f, 0, 1000), server.priority);
    } else if (f.key == "state") {
      set(r.read_enum<AdminState>(f, kAdminStates), server.state);
    }
  });
  if (kind_key.empty()) {
    r.error(server.mark, ctx + " needs one of address, srv or mx");
    return std::nullopt;
  }
  if (port_field && server.kind != ServerEntry::Kind::mx) {
    r.error_at_key(*port_field,
                   fmt::format("only used with mx ({} carries its own port)", kind_key));
  }
  if (server.name.empty()) server.name = as_written;
  return server;
}

void load_servers(YamlReader& r, const std::string& ctx, const Field& field, PoolConfig& pool) {
  const auto items = r.items(field);
  if (!items) return;
  if (items->empty()) {
    r.error(field, "is empty: the pool has no servers");
    return;
  }
  int index = 0;
  for (const Field& item : *items) {
    if (auto server = load_server(r, ctx, ++index, item)) pool.servers.push_back(*server);
  }
  // Names identify servers in /status, metrics and admin actions.
  std::map<std::string, int, std::less<>> seen;
  for (const ServerEntry& server : pool.servers) {
    if (server.name.empty()) continue;  // its own error was reported
    if (seen[server.name]++ == 0) continue;
    const auto name_mark = server.marks.find("name");
    r.error(name_mark != server.marks.end() ? name_mark->second : server.mark,
            fmt::format("{}: server name \"{}\" is used twice (names must be unique in a pool)",
                        ctx, server.name));
  }
}

}  // namespace

PoolConfig load_pool(YamlReader& r, const std::string& name, const Field& body) {
  PoolConfig pool;
  pool.name = name;
  pool.mark = body.key_mark;
  const std::string ctx = fmt::format("pool \"{}\"", name);
  bool has_servers = false;
  const bool is_map =
      r.for_each_entry(body, ctx, "in " + ctx, kPoolKeys, &pool.marks, "", [&](const Field& f) {
        if (f.key == "balance") {
          set(r.read_enum<Balance>(f, kBalances), pool.balance);
        } else if (f.key == "source-network-prefix") {
          r.for_each_entry(f, ctx, "in " + ctx + " source-network-prefix", kPrefixKeys, &pool.marks,
                           "source-network-prefix.", [&](const Field& p) {
                             if (p.key == "source-network-prefix.ipv4") {
                               set_int<int>(r.read_int(p, 0, 32), pool.source_prefix_v4);
                             } else {
                               set_int<int>(r.read_int(p, 0, 128), pool.source_prefix_v6);
                             }
                           });
        } else if (f.key == "servers") {
          has_servers = true;
          load_servers(r, ctx, f, pool);
        } else if (f.key == "connect-timeout") {
          set(r.read_duration(f, Min::positive), pool.connect_timeout);
        } else if (f.key == "retries") {
          set_int<int>(r.read_int(f, 0, 100), pool.retries);
        } else if (f.key == "proxy-protocol") {
          set(r.read_enum<ProxyProtocol>(f, kProxyProtocols), pool.proxy_protocol);
        } else if (f.key == "source") {
          set(r.read_enum<SourceMode>(f, kSourceModes), pool.source);
        } else if (f.key == "slow-start") {
          set(r.read_duration(f, Min::zero), pool.slow_start);
        } else if (f.key == "health") {
          load_health(r, ctx, f, pool.health);
        } else if (f.key == "outlier") {
          load_outlier(r, ctx, f, pool.outlier);
        } else if (f.key == "tls") {
          PoolTlsConfig& tls = pool.tls.emplace();
          tls.mark = f.key_mark;
          r.for_each_entry(f, ctx, "in " + ctx + " tls", kPoolTlsKeys, &tls.marks, "",
                           [&](const Field& t) {
                             if (t.key == "sni") {
                               set(r.read_hostname(t), tls.sni);
                             } else if (t.key == "verify") {
                               set(r.read_enum<TlsVerify>(t, kTlsVerify), tls.verify);
                             } else if (t.key == "ca") {
                               set(r.read_string(t), tls.ca);
                             }
                           });
        } else if (f.key == "keepalive") {
          r.for_each_entry(f, ctx, "in " + ctx + " keepalive", kKeepaliveKeys,
                           &pool.keepalive.marks, "", [&](const Field& k) {
                             if (k.key == "max-idle") {
                               set_int<int>(r.read_int(k, 0, 10000), pool.keepalive.max_idle);
                             } else {
                               set(r.read_duration(k, Min::positive), pool.keepalive.idle_timeout);
                             }
                           });
        }
      });
  if (is_map && !has_servers) {
    r.error(pool.mark, ctx + " has no servers (add servers: [{address: HOST:PORT}])");
  }
  return pool;
}

}  // namespace sb::config::detail
