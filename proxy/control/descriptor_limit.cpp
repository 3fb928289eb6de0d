#include "proxy/control/descriptor_limit.h"

#include <fmt/format.h>
#include <sys/resource.h>

namespace sb::runtime {
namespace {
// The process's own descriptors beside its connections: epoll and eventfds
// per worker, listening sockets, the admin server, checks, the resolver.
constexpr std::uint64_t kMargin = 256;
}  // namespace

std::uint64_t descriptors_needed(const config::Config& cfg) {
  std::uint64_t n = kMargin;
  for (const auto& l : cfg.listeners) n += 2 * static_cast<std::uint64_t>(l.max_connections);
  for (const auto& p : cfg.pools) n += p.servers.size();  // a check each
  return n;
}

DescriptorBudget raise_descriptor_limit(const config::Config& cfg) {
  DescriptorBudget b;
  b.needed = descriptors_needed(cfg);
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return b;
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  b.limit =
      limit.rlim_cur == RLIM_INFINITY ? UINT64_MAX : static_cast<std::uint64_t>(limit.rlim_cur);
  return b;
}

std::optional<std::string> descriptor_warning(const DescriptorBudget& b) {
  if (b.limit == 0 || b.needed <= b.limit) return std::nullopt;
  return fmt::format(
      "open-file limit {} is {} short of the {} descriptors that max-connections may need "
      "(two per connection); raise LimitNOFILE / ulimit -n or lower max-connections",
      b.limit, b.needed - b.limit, b.needed);
}

}  // namespace sb::runtime
