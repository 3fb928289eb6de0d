#pragma once
// The running proxy: workers, listeners, the admin server and the control
// plane (signals, graceful shutdown) for one configuration.

#include <string>

#include "proxy/config/config.h"

namespace sb::runtime {

// Runs in the foreground until SIGTERM/SIGINT and the drain that follows.
// Returns the process exit code: 0 after a clean stop, 3 when it cannot start
// (an address in use, ...). `file` names the configuration in messages.
int run(const config::Config& cfg, const std::string& file);

}  // namespace sb::runtime
