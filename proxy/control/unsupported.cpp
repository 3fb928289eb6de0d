#include "proxy/control/unsupported.h"

#include <fmt/format.h>

namespace sb::runtime {
namespace {

class Collector {
 public:
  explicit Collector(const std::string& file) : file_(file) {}

  void add(config::Mark mark, std::string_view what, std::string_view hint = {}) {
    errors_.push_back({file_, mark,
                       fmt::format("{} is not supported by this version{}{}", what,
                                   hint.empty() ? "" : ": ", hint)});
  }
  std::vector<config::ConfigError> take() { return std::move(errors_); }

 private:
  const std::string& file_;
  std::vector<config::ConfigError> errors_;
};

config::Mark mark_of(const config::Marks& marks, std::string_view key, config::Mark fallback) {
  auto it = marks.find(key);
  return it == marks.end() ? fallback : it->second;
}

}  // namespace

std::vector<config::ConfigError> find_unsupported(const config::Config& cfg,
                                                  const std::string& file) {
  Collector c(file);
  for (const auto& l : cfg.listeners) {
    const std::string ctx = fmt::format("listener \"{}\": ", l.name);
    if (l.protocol == config::Protocol::smtp && l.smtp && l.smtp->xclient &&
        l.smtp->mode != config::SmtpMode::inspect) {
      // Passthrough relays the client's own dialogue: there is no session
      // of switchboard's in which to send XCLIENT.
      c.add(mark_of(l.smtp->marks, "xclient", l.smtp->mark), ctx + "smtp.xclient in passthrough",
            "set smtp.mode: inspect, or use the pool's proxy-protocol");
    }
    if (l.protocol == config::Protocol::smtp && l.tls &&
        (!l.smtp || l.smtp->mode != config::SmtpMode::inspect)) {
      // Passthrough relays the server's own STARTTLS, end to end.
      c.add(mark_of(l.marks, "tls", l.mark), ctx + "tls on an smtp listener in passthrough",
            "STARTTLS is the servers' own there; switchboard offers it in smtp.mode: inspect");
    }
    for (const auto& hp : l.listen) {
      if (hp.kind == config::HostPort::Kind::hostname) {
        c.add(hp.mark, fmt::format("{}listening on a host name ({})", ctx, hp.to_string()),
              "listen on IP addresses");
      }
    }
  }
  if (cfg.admin.listen.kind == config::HostPort::Kind::hostname) {
    c.add(cfg.admin.listen.mark, "admin.listen on a host name", "listen on IP addresses");
  }
  return c.take();
}

}  // namespace sb::runtime
