#include "proxy/control/config_changes.h"

#include <fmt/format.h>

#include <algorithm>

namespace sb::runtime {
namespace {

template <class T>
bool has_named(const std::vector<T>& items, const std::string& name) {
  return std::any_of(items.begin(), items.end(), [&](const T& i) { return i.name == name; });
}

std::string servers_text(const std::vector<config::HostPort>& servers) {
  if (servers.empty()) return "system";
  std::string out;
  for (const auto& s : servers) out += (out.empty() ? "" : ",") + s.to_string();
  return out;
}

void restart_only(const config::Config& a, const config::Config& b, std::vector<std::string>& out) {
  const auto note = [&](std::string_view key, const std::string& from, const std::string& to) {
    if (from != to)
      out.push_back(fmt::format("{}: {} -> {} takes effect at the next start", key, from, to));
  };
  note("workers", std::to_string(a.workers), std::to_string(b.workers));
  note("admin.listen", a.admin.listen.to_string(), b.admin.listen.to_string());
  note("log.level", std::to_string(static_cast<int>(a.log.level)),
       std::to_string(static_cast<int>(b.log.level)));
  note("log.format", a.log.format == config::LogFormat::json ? "json" : "text",
       b.log.format == config::LogFormat::json ? "json" : "text");
  note("log.access", a.log.access ? "true" : "false", b.log.access ? "true" : "false");
  note("resolver.servers", servers_text(a.resolver.servers), servers_text(b.resolver.servers));
  note("resolver.timeout", fmt::format("{}ms", a.resolver.timeout.count()),
       fmt::format("{}ms", b.resolver.timeout.count()));
  note("resolver.attempts", std::to_string(a.resolver.attempts),
       std::to_string(b.resolver.attempts));
  const auto bool_text = [](bool v) { return std::string(v ? "true" : "false"); };
  note("tuning.accept", std::string(config::to_string(a.tuning.accept)),
       std::string(config::to_string(b.tuning.accept)));
  note("tuning.relay", std::string(config::to_string(a.tuning.relay)),
       std::string(config::to_string(b.tuning.relay)));
  note("tuning.connection-metrics", bool_text(a.tuning.connection_metrics),
       bool_text(b.tuning.connection_metrics));
}

}  // namespace

ConfigChanges config_changes(const config::Config& before, const config::Config& after) {
  ConfigChanges c;
  for (const auto& p : after.pools) {
    if (!has_named(before.pools, p.name)) c.pools_added.push_back(p.name);
  }
  for (const auto& p : before.pools) {
    if (!has_named(after.pools, p.name)) c.pools_removed.push_back(p.name);
  }
  for (const auto& l : after.listeners) {
    if (!has_named(before.listeners, l.name)) c.listeners_added.push_back(l.name);
  }
  for (const auto& l : before.listeners) {
    if (!has_named(after.listeners, l.name)) c.listeners_removed.push_back(l.name);
  }
  restart_only(before, after, c.need_restart);
  for (const auto& pool : after.pools) {
    const config::PoolConfig* old = before.find_pool(pool.name);
    if (!old) continue;
    for (const auto& s : pool.servers) {
      const auto was = std::find_if(old->servers.begin(), old->servers.end(),
                                    [&](const auto& o) { return o.name == s.name; });
      if (was != old->servers.end() && was->state != s.state) {
        c.admin_changes.push_back({pool.name, s.name, s.state});
      }
    }
  }
  return c;
}

}  // namespace sb::runtime
