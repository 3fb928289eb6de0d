#pragma once
// The open-file limit at start (docs/configuration.md, "Local faults"): the
// soft limit is raised to the hard one, as HAProxy and nginx do, and a
// configuration whose listeners may hold more descriptors than that is
// warned about, so that EMFILE is found at start rather than under load.

#include <cstdint>
#include <optional>
#include <string>

#include "proxy/config/config.h"

namespace sb::runtime {

struct DescriptorBudget {
  std::uint64_t limit = 0;   // the soft limit after raising it
  std::uint64_t needed = 0;  // two per connection of every listener, and a margin
};

// Descriptors the configuration may hold at once: a client and a server
// socket per allowed connection, plus a fixed margin for the process's own
// (listeners, admin, checks, resolver, logs).
std::uint64_t descriptors_needed(const config::Config& cfg);

// Raises RLIMIT_NOFILE's soft limit to its hard limit and compares it with
// what `cfg` needs.
DescriptorBudget raise_descriptor_limit(const config::Config& cfg);

// The warning for a budget that does not fit, or nullopt.
std::optional<std::string> descriptor_warning(const DescriptorBudget& budget);

}  // namespace sb::runtime
