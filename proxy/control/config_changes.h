#pragma once
// What a reload changes, worked out from the two configurations alone (no
// runtime state), so that it can be tested on its own and logged.

#include <string>
#include <vector>

#include "proxy/config/config.h"

namespace sb::runtime {

struct ConfigChanges {
  std::vector<std::string> pools_added, pools_removed;
  std::vector<std::string> listeners_added, listeners_removed;
  // Settings a reload cannot apply to a running process, each as a message
  // ("workers: 2 -> 4 takes effect at the next start").
  std::vector<std::string> need_restart;
  // A server whose `state:` the file changed (pool, server name, new
  // state). Only these override what an operator set through the admin API:
  // a reload of an unchanged file keeps a drain.
  struct AdminChange {
    std::string pool;
    std::string server;
    config::AdminState state;
  };
  std::vector<AdminChange> admin_changes;
};

ConfigChanges config_changes(const config::Config& before, const config::Config& after);

}  // namespace sb::runtime
