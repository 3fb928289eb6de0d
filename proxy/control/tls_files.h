#pragma once
// The TLS files a configuration names (listener certificates and keys,
// client CAs, pool CAs), loaded as the listeners and pools will load them,
// so that `check` and a reload refuse a file that `run` could not use.

#include <string>
#include <vector>

#include "proxy/config/config.h"
#include "proxy/config/config_loader.h"

namespace sb::runtime {

std::vector<config::ConfigError> find_tls_problems(const config::Config& cfg,
                                                   const std::string& file);

}  // namespace sb::runtime
