#include "proxy/mx_test.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio.hpp>
#include <boost/json.hpp>
#include <cstdio>
#include <map>
#include <memory>

#include "dns/resolver.h"
#include "dns/rotation.h"
#include "health/mx_probe.h"

namespace sb::mxtest {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;

struct Address {
  std::string text;  // "192.0.2.1"
  asio::ip::address ip;
  health::MxServerReport probe;
};

struct Host {
  std::string name;
  std::uint16_t preference = 0;
  std::int64_t ttl = 0;
  std::vector<Address> addresses;
  std::string lookup_error;              // its A/AAAA lookup failed
  std::vector<dns::AddressRecord> glue;  // from the MX answer, if it had any
};

struct Report {
  std::string domain;
  int queries = 0;
  bool implicit_mx = false;  // no MX records: the domain itself (RFC 5321 §5.1)
  std::string dns_error;     // the MX lookup itself failed
  std::vector<Host> hosts;
  std::vector<std::uint64_t> first_counts;  // per host of the lowest preference
  std::vector<std::string> first_names;
  dns::RotationVerdict rotation;

  bool ok() const {
    if (!dns_error.empty() || implicit_mx || hosts.empty()) return false;
    for (const auto& h : hosts) {
      if (!h.lookup_error.empty() || h.addresses.empty()) return false;
      for (const auto& a : h.addresses) {
        if (!a.probe.ok) return false;
      }
    }
    return true;
  }
};

std::string local_helo() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) == 0 &&
      std::string_view(name).find('.') != std::string_view::npos) {
    return name;
  }
  return "mx-test.switchboard.invalid";
}

Address address_of(const dns::AddressRecord& rec) {
  Address addr;
  addr.text = rec.to_string();
  addr.ip = asio::ip::make_address(addr.text);
  return addr;
}

asio::awaitable<void> resolve_hosts(dns::Resolver& resolver, Report& r) {
  for (auto& h : r.hosts) {
    if (!h.glue.empty()) {  // the answer brought the addresses
      for (const auto& rec : h.glue) h.addresses.push_back(address_of(rec));
      continue;
    }
    auto a = co_await resolver.addresses(h.name);
    if (a.status != dns::LookupStatus::ok) {
      h.lookup_error = a.status == dns::LookupStatus::nxdomain ? "no such host (NXDOMAIN)"
                       : a.status == dns::LookupStatus::nodata ? "no A/AAAA records"
                                                               : "lookup failed: " + a.error;
      continue;
    }
    for (const auto& rec : a.records) h.addresses.push_back(address_of(rec));
  }
}

// Resolves, counts who came first, and finds every address (the probes run
// after this, all at once).
asio::awaitable<void> resolve(dns::Resolver& resolver, Report& r) {
  std::map<std::string, std::uint64_t> first;
  for (int i = 0; i < r.queries; ++i) {
    auto mx = co_await resolver.mx(r.domain);
    if (mx.status == dns::LookupStatus::nxdomain || mx.status == dns::LookupStatus::nodata) {
      r.implicit_mx = true;
      break;
    }
    if (mx.status != dns::LookupStatus::ok) {
      r.dns_error = "MX lookup failed: " + mx.error;
      co_return;
    }
    if (r.hosts.empty()) {
      for (const auto& rec : mx.records) {
        r.hosts.push_back({rec.host, rec.preference, rec.ttl.count(), {}, {}, rec.glue});
      }
      std::stable_sort(r.hosts.begin(), r.hosts.end(),
                       [](const Host& a, const Host& b) { return a.preference < b.preference; });
      for (const auto& h : r.hosts) {
        if (h.preference == r.hosts.front().preference) {
          r.first_names.push_back(h.name);
          first[h.name] = 0;
        }
      }
    }
    // The first of the lowest-preference hosts in this answer's order.
    for (const auto& rec : mx.records) {
      const auto it = first.find(rec.host);
      if (it != first.end()) {
        ++it->second;
        break;
      }
    }
  }
  if (r.implicit_mx) {
    r.hosts = {{r.domain, 0, 0, {}, {}, {}}};
  }
  for (const auto& name : r.first_names) r.first_counts.push_back(first[name]);
  r.rotation = dns::rotation_verdict(r.first_counts);
  co_await resolve_hosts(resolver, r);
}

json::value to_json(const Report& r) {
  json::object counts;
  for (std::size_t i = 0; i < r.first_names.size(); ++i) {
    counts[r.first_names[i]] = r.first_counts[i];
  }
  json::array hosts;
  for (const auto& h : r.hosts) {
    json::array addresses;
    for (const auto& a : h.addresses) {
      json::array ext;
      for (const auto& e : a.probe.extensions) ext.emplace_back(e);
      json::value tls = nullptr;
      if (a.probe.tls) {
        tls = json::object{
            {"protocol", a.probe.tls->protocol}, {"subject", a.probe.tls->subject},
            {"issuer", a.probe.tls->issuer},     {"not_after", a.probe.tls->not_after},
            {"expired", a.probe.tls->expired},   {"name_matches", a.probe.tls->name_matches}};
      }
      json::value error = nullptr;
      if (!a.probe.ok) error = json::string(a.probe.error);
      addresses.push_back(json::object{{"address", a.text},
                                       {"ok", a.probe.ok},
                                       {"connect_ms", a.probe.connect_ms},
                                       {"banner", a.probe.banner},
                                       {"extensions", std::move(ext)},
                                       {"tls", std::move(tls)},
                                       {"error", std::move(error)}});
    }
    json::object host{{"name", h.name},
                      {"preference", h.preference},
                      {"ttl", h.ttl},
                      {"addresses", std::move(addresses)}};
    if (!h.lookup_error.empty()) host["error"] = h.lookup_error;
    hosts.push_back(std::move(host));
  }
  json::object out{{"domain", r.domain},
                   {"queries", r.queries},
                   {"ok", r.ok()},
                   {"implicit_mx", r.implicit_mx},
                   {"rotation", json::object{{"verdict", r.rotation.verdict},
                                             {"chi_square", r.rotation.chi_square},
                                             {"p_value", r.rotation.p_value},
                                             {"first_counts", std::move(counts)}}},
                   {"hosts", std::move(hosts)}};
  if (!r.dns_error.empty()) out["error"] = r.dns_error;
  return out;
}

void print_table(const Report& r, const Options& o) {
  std::printf("MX test of %s: %d queries to %s\n\n", r.domain.c_str(), r.queries,
              o.dns ? o.dns->c_str() : "the system resolver");
  if (!r.dns_error.empty()) {
    std::printf("%s\n\nresult: FAIL\n", r.dns_error.c_str());
    return;
  }
  if (r.implicit_mx) {
    std::printf(
        "%s has no MX records: mail goes to its own A/AAAA (RFC 5321 section 5.1, "
        "the implicit MX)\n\n",
        r.domain.c_str());
  } else {
    std::printf("%-32s %5s %7s  %s\n", "MX host", "pref", "ttl", "first in answers");
    for (const auto& h : r.hosts) {
      const auto it = std::find(r.first_names.begin(), r.first_names.end(), h.name);
      const std::string first =
          it == r.first_names.end()
              ? "-"
              : fmt::format("{}/{}",
                            r.first_counts[static_cast<std::size_t>(it - r.first_names.begin())],
                            r.queries);
      std::printf("%-32s %5u %6llds  %s\n", h.name.c_str(), h.preference,
                  static_cast<long long>(h.ttl), first.c_str());
    }
    std::printf("\nrotation: %s (chi-square %.2f, p %.3f) across %zu hosts of preference %u\n\n",
                r.rotation.verdict.c_str(), r.rotation.chi_square, r.rotation.p_value,
                r.first_names.size(), r.hosts.empty() ? 0u : r.hosts.front().preference);
  }
  std::size_t failed = 0, total = 0;
  for (const auto& h : r.hosts) {
    if (!h.lookup_error.empty()) {
      std::printf("%-32s FAIL %s\n", h.name.c_str(), h.lookup_error.c_str());
      ++failed;
      ++total;
      continue;
    }
    for (const auto& a : h.addresses) {
      ++total;
      const std::string where = fmt::format("{} {}", h.name, a.text);
      if (!a.probe.ok) {
        ++failed;
        std::printf("%-48s FAIL %s\n", where.c_str(), a.probe.error.c_str());
        if (!a.probe.banner.empty()) std::printf("%-48s      %s\n", "", a.probe.banner.c_str());
        continue;
      }
      std::string ext;
      for (const auto& e : a.probe.extensions) ext += (ext.empty() ? "" : " ") + e;
      std::printf("%-48s ok   %.1f ms  %s\n", where.c_str(), a.probe.connect_ms,
                  a.probe.banner.c_str());
      std::printf("%-48s      EHLO: %s\n", "", ext.c_str());
      if (a.probe.tls) {
        const auto& t = *a.probe.tls;
        std::printf("%-48s      STARTTLS %s, %s, issuer %s, expires %s%s, %s\n", "",
                    t.protocol.c_str(), t.subject.c_str(), t.issuer.c_str(), t.not_after.c_str(),
                    t.expired ? " (EXPIRED)" : "",
                    t.name_matches ? "names the host" : "does NOT name the host");
      } else {
        std::printf("%-48s      no STARTTLS offered\n", "");
      }
    }
  }
  std::printf("\nresult: %s (%zu of %zu addresses failed%s)\n", r.ok() ? "ok" : "FAIL", failed,
              total, r.implicit_mx ? "; no MX records" : "");
}

}  // namespace

int run(const Options& o) {
  asio::io_context io(1);
  dns::ResolverOptions ro;
  if (o.dns) ro.servers.push_back(*o.dns);
  ro.timeout = std::min<std::chrono::milliseconds>(o.timeout, std::chrono::milliseconds(5000));
  ro.attempts = 2;
  std::unique_ptr<dns::Resolver> resolver;
  try {
    resolver = std::make_unique<dns::Resolver>(io.get_executor(), ro);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "switchboard: mx-test: --dns %s: %s\n", o.dns ? o.dns->c_str() : "",
                 e.what());
    return 2;
  }
  Report report;
  report.domain = o.domain;
  report.queries = o.queries;
  asio::co_spawn(io, resolve(*resolver, report), asio::detached);
  io.run();
  io.restart();
  // Every address at once, each within --timeout.
  const std::string helo = local_helo();
  for (auto& h : report.hosts) {
    for (auto& a : h.addresses) {
      asio::co_spawn(io, health::probe_mx_server(a.ip, o.port, h.name, helo, o.timeout),
                     [&a](std::exception_ptr e, health::MxServerReport result) {
                       if (e) {
                         a.probe.error = "probe failed";
                         return;
                       }
                       a.probe = std::move(result);
                     });
    }
  }
  io.run();
  if (o.json) {
    std::printf("%s\n", json::serialize(to_json(report)).c_str());
  } else {
    print_table(report, o);
  }
  return report.ok() ? 0 : 1;
}

}  // namespace sb::mxtest
