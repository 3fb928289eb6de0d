// Listeners and their protocol sections: tls, smtp, http, sip, dns
// (docs/configuration.md "A listener").

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <limits>

#include "proxy/config/config_loader_internal.h"

namespace sb::config::detail {
namespace {

constexpr std::string_view kListenerKeys[] = {
    "listen",
    "protocol",
    "pool",
    "accept-proxy",
    "proxy-from",
    "proxy-header-timeout",
    "freebind",
    "allow",
    "deny",
    "max-connections",
    "max-connections-per-source",
    "idle-timeout",
    "client-first-byte-timeout",
    "tls",
    "smtp",
    "http",
    "sip",
    "dns",
};
constexpr std::string_view kTlsKeys[] = {"certificates",  "min-version",      "alpn",
                                         "client-ca",     "verify-client",    "handshake-timeout"};
constexpr std::string_view kCertificateKeys[] = {"cert", "key"};
constexpr std::string_view kSmtpKeys[] = {"mode",          "banner-timeout", "xclient",
                                          "hostname",      "max-message-size", "spool-dir",
                                          "max-recipients"};
constexpr std::string_view kHttpKeys[] = {
    "routes",          "affinity",         "cookie",   "forwarded-headers", "request-timeout",
    "response-timeout", "retry-on",        "max-header-size", "h2"};
constexpr std::string_view kH2Keys[] = {"max-concurrent-streams", "initial-window-size",
                                        "max-resets-per-second"};
constexpr std::string_view kRouteKeys[] = {"match", "pool"};
constexpr std::string_view kMatchKeys[] = {"path-prefix", "host"};
constexpr std::string_view kCookieKeys[] = {"name", "max-age"};
constexpr std::string_view kSipKeys[] = {"transports", "failover-on", "invite-timeout",
                                         "record-route", "dialog-timeout"};
constexpr std::string_view kDnsKeys[] = {"records", "rotate", "max-answers", "when-all-down"};
constexpr std::string_view kRecordKeys[] = {"name", "type", "pool", "ttl", "preference"};

constexpr EnumName<Protocol> kProtocols[] = {
    {"tcp", Protocol::tcp}, {"smtp", Protocol::smtp}, {"http", Protocol::http},
    {"sip", Protocol::sip}, {"dns", Protocol::dns},
};
constexpr EnumName<std::string_view> kTlsVersions[] = {{"1.2", "1.2"}, {"1.3", "1.3"}};
constexpr EnumName<VerifyClient> kVerifyClient[] = {
    {"none", VerifyClient::none},
    {"optional", VerifyClient::optional},
    {"required", VerifyClient::required},
};
constexpr EnumName<SmtpMode> kSmtpModes[] = {
    {"passthrough", SmtpMode::passthrough},
    {"inspect", SmtpMode::inspect},
};
constexpr EnumName<Affinity> kAffinities[] = {
    {"none", Affinity::none},
    {"cookie", Affinity::cookie},
    {"source-ip", Affinity::source_ip},
};
constexpr EnumName<SipTransport> kSipTransports[] = {
    {"udp", SipTransport::udp},
    {"tcp", SipTransport::tcp},
};
constexpr EnumName<RecordType> kRecordTypes[] = {
    {"A", RecordType::A},
    {"AAAA", RecordType::AAAA},
    {"MX", RecordType::MX},
    {"SRV", RecordType::SRV},
};
constexpr EnumName<WhenAllDown> kWhenAllDown[] = {
    {"all", WhenAllDown::all},
    {"none", WhenAllDown::none},
};

constexpr std::int64_t kU32Max = std::numeric_limits<std::uint32_t>::max();

std::string_view record_type_name(RecordType type) {
  for (const auto& n : kRecordTypes) {
    if (n.value == type) return n.name;
  }
  return "?";
}

// Reads a pool name and checks that a pool of that name exists. `ctx` is what
// the message names as the referrer (`listener "x"`, `... http route #2`).
std::optional<std::string> read_pool_ref(YamlReader& r, const std::string& ctx, const Field& f,
                                         const std::vector<PoolConfig>* pools,
                                         const PoolConfig** found = nullptr) {
  auto name = r.read_string(f);
  if (!name || pools == nullptr) return name;
  std::vector<std::string_view> names;
  for (const PoolConfig& pool : *pools) {
    if (pool.name == *name) {
      if (found != nullptr) *found = &pool;
      return name;
    }
    names.push_back(pool.name);
  }
  std::string message = fmt::format("{}: pool \"{}\" is not defined", ctx, *name);
  if (auto guess = closest_key(*name, names))
    message += fmt::format(" (did you mean \"{}\"?)", *guess);
  r.error(mark_of(f.value), std::move(message));
  return name;
}

// RFC 6265 cookie-name is an RFC 7230 token.
bool is_valid_cookie_name(std::string_view name) {
  constexpr std::string_view kExtra = "!#$%&'*+-.^_`|~";
  return !name.empty() && std::all_of(name.begin(), name.end(), [&](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || kExtra.find(c) != std::string_view::npos;
  });
}

// "408" or "500-599": final responses (4xx..6xx) on which a call is presented
// to the next server. 3xx is passed back to the caller (docs/configuration.md), never retried.
std::optional<StatusRange> parse_sip_status_range(std::string_view text) {
  const std::size_t dash = text.find('-');
  auto number = [](std::string_view t) -> std::optional<int> {
    if (t.size() != 3 ||
        !std::all_of(t.begin(), t.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return std::nullopt;
    }
    return (t[0] - '0') * 100 + (t[1] - '0') * 10 + (t[2] - '0');
  };
  const auto low = number(text.substr(0, dash));
  const auto high = number(dash == std::string_view::npos ? text : text.substr(dash + 1));
  if (!low || !high || *low < 400 || *high > 699 || *low > *high) return std::nullopt;
  return StatusRange{*low, *high};
}

void load_tls(YamlReader& r, const std::string& listener_ctx, const Field& field, TlsConfig& tls) {
  tls.mark = field.key_mark;
  const std::string ctx = listener_ctx + " tls";
  bool has_certificates = false;
  std::optional<Field> verify_field;
  const bool is_map =
      r.for_each_entry(field, ctx, "in " + ctx, kTlsKeys, &tls.marks, "", [&](const Field& f) {
        if (f.key == "certificates") {
          has_certificates = true;  // present; a bad value is its own error
          const auto items = r.items(f);
          if (!items) return;
          if (items->empty()) r.error(f, "is empty: tls needs at least one {cert, key}");
          int index = 0;
          for (const Field& item : *items) {
            ++index;
            const Field as_item{ctx, fmt::format("certificate #{}", index), item.key_mark,
                                item.value};
            if (!r.expect_map(as_item)) continue;
            const std::string cctx = fmt::format("{} certificate #{}", ctx, index);
            TlsCertificate certificate;
            r.for_each_entry(item, cctx, "in " + cctx, kCertificateKeys, nullptr, "",
                             [&](const Field& c) {
                               auto path = r.read_string(c);
                               if (path)
                                 (c.key == "cert" ? certificate.cert : certificate.key) = *path;
                             });
            if (certificate.cert.empty() || certificate.key.empty()) {
              r.error(item.key_mark, cctx + " needs both cert and key");
            }
            tls.certificates.push_back(std::move(certificate));
          }
        } else if (f.key == "min-version") {
          if (auto version = r.read_enum<std::string_view>(f, kTlsVersions)) {
            tls.min_version = std::string(*version);
          }
        } else if (f.key == "alpn") {
          if (const auto items = r.items(f)) {
            tls.alpn.clear();
            for (const Field& item : *items) {
              if (auto protocol = r.read_string(item)) tls.alpn.push_back(*protocol);
            }
          }
        } else if (f.key == "client-ca") {
          set(r.read_string(f), tls.client_ca);
        } else if (f.key == "verify-client") {
          verify_field = f;
          set(r.read_enum<VerifyClient>(f, kVerifyClient), tls.verify_client);
        } else if (f.key == "handshake-timeout") {
          set(r.read_duration(f, Min::positive), tls.handshake_timeout);
        }
      });
  if (!is_map) return;
  if (!has_certificates) r.error(tls.mark, ctx + " needs certificates: [{cert: PATH, key: PATH}]");
  if (tls.verify_client != VerifyClient::none && tls.client_ca.empty() && verify_field) {
    r.error(mark_of(verify_field->value),
            fmt::format("{}: verify-client: \"{}\" needs client-ca (the CA that signs client "
                        "certificates)",
                        ctx, verify_field->value.Scalar()));
  }
}

void load_smtp(YamlReader& r, const std::string& listener_ctx, const Field& field,
               SmtpConfig& smtp) {
  smtp.mark = field.key_mark;
  const std::string ctx = listener_ctx + " smtp";
  r.for_each_entry(field, ctx, "in " + ctx, kSmtpKeys, &smtp.marks, "", [&](const Field& f) {
    if (f.key == "mode") {
      set(r.read_enum<SmtpMode>(f, kSmtpModes), smtp.mode);
    } else if (f.key == "banner-timeout") {
      set(r.read_duration(f, Min::positive), smtp.banner_timeout);
    } else if (f.key == "xclient") {
      set(r.read_bool(f), smtp.xclient);
    } else if (f.key == "hostname") {
      set(r.read_hostname(f), smtp.hostname);
    } else if (f.key == "max-message-size") {
      set(r.read_size(f, Min::positive), smtp.max_message_size);
    } else if (f.key == "spool-dir") {
      auto dir = r.read_string(f);
      if (dir && dir->front() != '/') {
        r.error(f, fmt::format("{}: spool-dir \"{}\" must be an absolute path", ctx, *dir));
      } else if (dir) {
        smtp.spool_dir = *dir;
      }
    } else if (f.key == "max-recipients") {
      if (auto n = r.read_int(f, 1, 100000)) smtp.max_recipients = static_cast<std::size_t>(*n);
    }
  });
}

void load_route(YamlReader& r, const std::string& rctx, const Field& item,
                const std::vector<PoolConfig>* pools, HttpRoute& route) {
  bool has_pool = false;
  r.for_each_entry(item, rctx, "in " + rctx, kRouteKeys, nullptr, "", [&](const Field& f) {
    if (f.key == "pool") {
      has_pool = true;
      set(read_pool_ref(r, rctx, f, pools), route.pool);
      return;
    }
    r.for_each_entry(f, rctx, "in " + rctx + " match", kMatchKeys, nullptr, "match.",
                     [&](const Field& m) {
                       auto text = r.read_string(m);
                       if (!text) return;
                       if (m.key == "match.path-prefix") {
                         if (text->front() != '/') {
                           r.error(m, fmt::format("\"{}\" must start with \"/\"", *text));
                         } else {
                           route.path_prefix = *text;
                         }
                       } else if (!is_valid_hostname(text->starts_with("*.") ? text->substr(2)
                                                                             : *text)) {
                         r.error(m, fmt::format("\"{}\" is not a valid host name", *text));
                       } else {
                         route.host = *text;
                       }
                     });
  });
  if (!has_pool) r.error(route.mark, rctx + " needs pool");
}

// retry-on: [connect-failure, reset, 503]; an empty list retries nothing.
void load_retry_on(YamlReader& r, const Field& f, RetryOn& retry_on) {
  const auto items = r.items(f);
  if (!items) return;
  RetryOn chosen{false, false, false};
  for (const Field& item : *items) {
    auto name = r.read_string(item);
    if (!name) continue;
    if (*name == "connect-failure") {
      chosen.connect_failure = true;
    } else if (*name == "reset") {
      chosen.reset = true;
    } else if (*name == "503") {
      chosen.status_503 = true;
    } else {
      r.error(item, fmt::format("\"{}\" is not one of connect-failure, reset, 503", *name));
    }
  }
  retry_on = chosen;
}

void load_h2(YamlReader& r, const std::string& http_ctx, const Field& field, Http2Config& h2) {
  h2.mark = field.key_mark;
  const std::string ctx = http_ctx + " h2";
  r.for_each_entry(field, ctx, "in " + ctx, kH2Keys, &h2.marks, "", [&](const Field& f) {
    if (f.key == "max-concurrent-streams") {
      set_int<std::uint32_t>(r.read_int(f, 1, 10000), h2.max_concurrent_streams);
    } else if (f.key == "initial-window-size") {
      if (auto size = r.read_size(f, Min::positive)) {
        // RFC 9113: at most 2^31-1.
        if (*size > 0x7fffffffull) {
          r.error(f, "is over 2147483647 bytes, the largest HTTP/2 window");
        } else {
          h2.initial_window_size = *size;
        }
      }
    } else if (f.key == "max-resets-per-second") {
      set_int<std::uint32_t>(r.read_int(f, 1, 1000000), h2.max_resets_per_second);
    }
  });
}

void load_http(YamlReader& r, const std::string& listener_ctx, const Field& field,
               const std::vector<PoolConfig>* pools, HttpConfig& http) {
  http.mark = field.key_mark;
  const std::string ctx = listener_ctx + " http";
  bool has_routes = false;
  const bool is_map =
      r.for_each_entry(field, ctx, "in " + ctx, kHttpKeys, &http.marks, "", [&](const Field& f) {
        if (f.key == "routes") {
          has_routes = true;  // present; a bad value is its own error
          const auto items = r.items(f);
          if (!items) return;
          if (items->empty()) r.error(f, "is empty: an http listener needs at least one route");
          int index = 0;
          for (const Field& item : *items) {
            ++index;
            const Field as_item{ctx, fmt::format("route #{}", index), item.key_mark, item.value};
            if (!r.expect_map(as_item)) continue;
            HttpRoute route;
            route.mark = item.key_mark;
            load_route(r, fmt::format("{} route #{}", ctx, index), item, pools, route);
            http.routes.push_back(std::move(route));
          }
        } else if (f.key == "affinity") {
          set(r.read_enum<Affinity>(f, kAffinities), http.affinity);
        } else if (f.key == "cookie") {
          r.for_each_entry(f, ctx, "in " + ctx + " cookie", kCookieKeys, &http.marks, "cookie.",
                           [&](const Field& c) {
                             if (c.key == "cookie.max-age") {
                               set(r.read_duration(c, Min::zero), http.cookie_max_age);
                             } else if (auto name = r.read_string(c)) {
                               if (!is_valid_cookie_name(*name)) {
                                 r.error(c,
                                         fmt::format("\"{}\" is not a valid cookie name", *name));
                               } else {
                                 http.cookie_name = *name;
                               }
                             }
                           });
        } else if (f.key == "forwarded-headers") {
          set(r.read_bool(f), http.forwarded_headers);
        } else if (f.key == "request-timeout") {
          set(r.read_duration(f, Min::positive), http.request_timeout);
        } else if (f.key == "max-header-size") {
          set(r.read_size(f, Min::positive), http.max_header_size);
        } else if (f.key == "response-timeout") {
          set(r.read_duration(f, Min::positive), http.response_timeout);
        } else if (f.key == "retry-on") {
          load_retry_on(r, f, http.retry_on);
        } else if (f.key == "h2") {
          load_h2(r, ctx, f, http.h2);
        }
      });
  if (is_map && !has_routes) r.error(http.mark, ctx + " needs routes: [{pool: NAME}]");
}

void load_sip(YamlReader& r, const std::string& listener_ctx, const Field& field, SipConfig& sip) {
  sip.mark = field.key_mark;
  const std::string ctx = listener_ctx + " sip";
  r.for_each_entry(field, ctx, "in " + ctx, kSipKeys, &sip.marks, "", [&](const Field& f) {
    if (f.key == "transports") {
      const auto items = r.items(f);
      if (!items) return;
      if (items->empty()) r.error(f, "is empty: name at least one of udp, tcp");
      std::vector<SipTransport> transports;
      for (const Field& item : *items) {
        auto transport = r.read_enum<SipTransport>(item, kSipTransports);
        if (!transport) continue;
        if (std::find(transports.begin(), transports.end(), *transport) != transports.end()) {
          r.error(item, fmt::format("\"{}\" is listed twice", item.value.Scalar()));
          continue;
        }
        transports.push_back(*transport);
      }
      if (!transports.empty()) sip.transports = std::move(transports);
    } else if (f.key == "failover-on") {
      const auto items = r.items(f);
      if (!items) return;
      sip.failover_on.clear();
      for (const Field& item : *items) {
        if (!r.expect_scalar(item, "a status like \"408\" or a range like \"500-599\"")) continue;
        if (auto range = parse_sip_status_range(item.value.Scalar())) {
          sip.failover_on.push_back(*range);
        } else {
          r.error(item, fmt::format("expected a status like \"408\" or a range like \"500-599\" "
                                    "within 400..699, got \"{}\"",
                                    item.value.Scalar()));
        }
      }
    } else if (f.key == "invite-timeout") {
      set(r.read_duration(f, Min::positive), sip.invite_timeout);
    } else if (f.key == "record-route") {
      set(r.read_bool(f), sip.record_route);
    } else if (f.key == "dialog-timeout") {
      set(r.read_duration(f, Min::positive), sip.dialog_timeout);
    }
  });
}

// MX and SRV answers name each server by its `name` and carry its address as
// glue, so every statically addressed server of the pool needs a host name.
// (srv:/mx: entries are discovered with host names already.)
void check_record_names(YamlReader& r, const std::string& rctx, const DnsRecord& record,
                        const PoolConfig& pool) {
  std::string offenders;
  for (const ServerEntry& server : pool.servers) {
    if (server.kind != ServerEntry::Kind::address) continue;
    if (server.marks.count("name") != 0 && is_valid_hostname(server.name)) continue;
    if (!offenders.empty()) offenders += ", ";
    offenders += fmt::format("\"{}\"", server.name);
  }
  if (offenders.empty()) return;
  r.error(record.mark,
          fmt::format("{}: {} answers name each server, so every server of pool \"{}\" needs a "
                      "name that is a host name; not so for {}",
                      rctx, record_type_name(record.type), pool.name, offenders));
}

void load_record(YamlReader& r, const std::string& rctx, const Field& item,
                 const std::vector<PoolConfig>* pools, DnsRecord& record) {
  record.mark = item.key_mark;
  const PoolConfig* pool = nullptr;
  bool has_name = false;
  bool has_pool = false;
  std::optional<Field> preference_field;
  r.for_each_entry(item, rctx, "in " + rctx, kRecordKeys, nullptr, "", [&](const Field& f) {
    if (f.key == "name") {
      has_name = true;
      auto name = r.read_string(f);
      if (!name) return;
      std::string lowered = *name;
      // Answers compare names case-insensitively (RFC 4343); store one form.
      std::transform(lowered.begin(), lowered.end(), lowered.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      if (!lowered.empty() && lowered.back() == '.') lowered.pop_back();
      if (!is_valid_dns_name(lowered)) {
        r.error(f, fmt::format("\"{}\" is not a valid DNS name", *name));
      } else {
        record.name = lowered;
      }
    } else if (f.key == "type") {
      set(r.read_enum<RecordType>(f, kRecordTypes), record.type);
    } else if (f.key == "pool") {
      has_pool = true;
      set(read_pool_ref(r, rctx, f, pools, &pool), record.pool);
    } else if (f.key == "ttl") {
      set_int<std::uint32_t>(r.read_int(f, 0, 2147483647), record.ttl);
    } else if (f.key == "preference") {
      preference_field = f;
      set_int<int>(r.read_int(f, 0, 65535), record.preference);
    }
  });
  if (!has_name) r.error(record.mark, rctx + " needs name");
  if (!has_pool) r.error(record.mark, rctx + " needs pool");
  if (preference_field && record.type != RecordType::MX) {
    r.error_at_key(*preference_field, "only used with type: MX");
  }
  if (pool != nullptr && (record.type == RecordType::MX || record.type == RecordType::SRV)) {
    check_record_names(r, rctx, record, *pool);
  }
}

void load_dns(YamlReader& r, const std::string& listener_ctx, const Field& field,
              const std::vector<PoolConfig>* pools, DnsConfig& dns) {
  dns.mark = field.key_mark;
  const std::string ctx = listener_ctx + " dns";
  bool has_records = false;
  const bool is_map =
      r.for_each_entry(field, ctx, "in " + ctx, kDnsKeys, &dns.marks, "", [&](const Field& f) {
        if (f.key == "records") {
          has_records = true;  // present; a bad value is its own error
          const auto items = r.items(f);
          if (!items) return;
          if (items->empty()) r.error(f, "is empty: a dns listener needs at least one record");
          int index = 0;
          for (const Field& item : *items) {
            ++index;
            const Field as_item{ctx, fmt::format("record #{}", index), item.key_mark, item.value};
            if (!r.expect_map(as_item)) continue;
            DnsRecord record;
            load_record(r, fmt::format("{} record #{}", ctx, index), item, pools, record);
            dns.records.push_back(std::move(record));
          }
        } else if (f.key == "rotate") {
          set(r.read_bool(f), dns.rotate);
        } else if (f.key == "max-answers") {
          set_int<int>(r.read_int(f, 1, 64), dns.max_answers);
        } else if (f.key == "when-all-down") {
          set(r.read_enum<WhenAllDown>(f, kWhenAllDown), dns.when_all_down);
        }
      });
  if (is_map && !has_records) {
    r.error(dns.mark, ctx + " needs records: [{name: NAME, type: A, pool: NAME}]");
  }
}

// The protocol decides which sections are allowed, whatever order the keys
// come in, so it is looked up before the walk. nullopt: written but invalid
// (reported during the walk; section checks are then skipped).
std::optional<Protocol> peek_protocol(const YAML::Node& body) {
  for (const auto& entry : body) {
    const YAML::Node key = entry.first;
    const YAML::Node value = entry.second;
    if (!key.IsScalar() || key.Scalar() != "protocol") continue;
    if (!value.IsScalar()) return std::nullopt;
    for (const auto& n : kProtocols) {
      if (n.name == value.Scalar()) return n.value;
    }
    return std::nullopt;
  }
  return Protocol::tcp;
}

std::vector<net::Cidr> read_cidrs(YamlReader& r, const Field& f) {
  std::vector<net::Cidr> out;
  if (const auto items = r.items(f)) {
    for (const Field& item : *items) {
      if (auto cidr = r.read_cidr(item)) out.push_back(*cidr);
    }
  }
  return out;
}

}  // namespace

ListenerConfig load_listener(YamlReader& r, const std::string& name, const Field& body,
                             const std::vector<PoolConfig>* pools) {
  ListenerConfig listener;
  listener.name = name;
  listener.mark = body.key_mark;
  const std::string ctx = fmt::format("listener \"{}\"", name);
  if (!r.expect_map(body)) return listener;
  const std::optional<Protocol> protocol = peek_protocol(body.value);
  if (protocol) listener.protocol = *protocol;
  const std::string protocol_name = protocol ? std::string(to_string(*protocol)) : "";

  bool has_listen = false;
  bool has_pool = false;
  // A section for another protocol is almost always a mistake (a copied block,
  // a forgotten `protocol:`); say so rather than ignore it.
  auto section_fits = [&](const Field& f, bool fits, std::string_view needs) {
    if (!protocol) return false;
    if (!fits) {
      r.error_at_key(f, fmt::format("not allowed with protocol {} ({})", protocol_name, needs));
    }
    return fits;
  };

  r.for_each_entry(body, ctx, "in " + ctx, kListenerKeys, &listener.marks, "", [&](const Field& f) {
    if (f.key == "listen") {
      has_listen = true;  // present; a bad value is its own error
      const auto items = r.items(f);
      if (!items) return;
      if (items->empty()) r.error(f, "is empty: a listener needs at least one address");
      for (const Field& item : *items) {
        if (auto address = r.read_address(item, HostRule::ip_only)) {
          listener.listen.push_back(*address);
        }
      }
    } else if (f.key == "protocol") {
      r.read_enum<Protocol>(f, kProtocols);  // value taken by peek_protocol
    } else if (f.key == "pool") {
      has_pool = true;
      if (protocol == Protocol::http || protocol == Protocol::dns) {
        r.error_at_key(
            f, fmt::format("not used with protocol {} (name pools in {}.{})", protocol_name,
                           protocol_name, protocol == Protocol::http ? "routes" : "records"));
        return;
      }
      set(read_pool_ref(r, ctx, f, pools), listener.pool);
    } else if (f.key == "accept-proxy") {
      set(r.read_bool(f), listener.accept_proxy);
    } else if (f.key == "proxy-from") {
      listener.proxy_from = read_cidrs(r, f);
    } else if (f.key == "proxy-header-timeout") {
      set(r.read_duration(f, Min::positive), listener.proxy_header_timeout);
    } else if (f.key == "freebind") {
      set(r.read_bool(f), listener.freebind);
    } else if (f.key == "allow") {
      listener.allow = read_cidrs(r, f);
    } else if (f.key == "deny") {
      listener.deny = read_cidrs(r, f);
    } else if (f.key == "max-connections") {
      set_int<std::uint32_t>(r.read_int(f, 1, kU32Max), listener.max_connections);
    } else if (f.key == "max-connections-per-source") {
      set_int<std::uint32_t>(r.read_int(f, 0, kU32Max), listener.max_connections_per_source);
    } else if (f.key == "idle-timeout") {
      set(r.read_duration(f, Min::positive), listener.idle_timeout);
    } else if (f.key == "client-first-byte-timeout") {
      set(r.read_duration(f, Min::positive), listener.client_first_byte_timeout);
    } else if (f.key == "tls") {
      if (section_fits(f, protocol == Protocol::http || protocol == Protocol::smtp,
                       "only http and smtp listeners use TLS")) {
        load_tls(r, ctx, f, listener.tls.emplace());
      }
    } else if (f.key == "smtp") {
      if (section_fits(f, protocol == Protocol::smtp, "it belongs to protocol: smtp")) {
        load_smtp(r, ctx, f, listener.smtp.emplace());
      }
    } else if (f.key == "http") {
      if (section_fits(f, protocol == Protocol::http, "it belongs to protocol: http")) {
        load_http(r, ctx, f, pools, listener.http.emplace());
      }
    } else if (f.key == "sip") {
      if (section_fits(f, protocol == Protocol::sip, "it belongs to protocol: sip")) {
        load_sip(r, ctx, f, listener.sip.emplace());
      }
    } else if (f.key == "dns") {
      if (section_fits(f, protocol == Protocol::dns, "it belongs to protocol: dns")) {
        load_dns(r, ctx, f, pools, listener.dns.emplace());
      }
    }
  });

  if (!has_listen) r.error(listener.mark, ctx + " needs listen: [\"IP:PORT\", ...]");
  if (!protocol) return listener;
  switch (*protocol) {
    case Protocol::tcp:
    case Protocol::smtp:
    case Protocol::sip:
      if (!has_pool)
        r.error(listener.mark, fmt::format("{} needs pool (protocol {})", ctx, protocol_name));
      if (*protocol == Protocol::smtp && !listener.smtp) listener.smtp.emplace();
      if (*protocol == Protocol::sip && !listener.sip) listener.sip.emplace();
      break;
    case Protocol::http:
      if (!listener.http) {
        r.error(listener.mark, ctx + " needs http: {routes: [{pool: NAME}]} (protocol http)");
        listener.http.emplace();
      }
      break;
    case Protocol::dns:
      if (!listener.dns) {
        r.error(listener.mark, ctx + " needs dns: {records: [...]} (protocol dns)");
        listener.dns.emplace();
      }
      break;
  }
  return listener;
}

}  // namespace sb::config::detail
