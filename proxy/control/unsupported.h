#pragma once
// Keys and values that the configuration format accepts but that this build
// cannot run. Both `switchboard check` and `switchboard run` (and a reload)
// refuse a file that uses them, naming the key and its position: a file that
// `check` calls valid is one that `run` will start with.

#include <string>
#include <vector>

#include "proxy/config/config.h"
#include "proxy/config/config_loader.h"

namespace sb::runtime {

std::vector<config::ConfigError> find_unsupported(const config::Config& cfg,
                                                  const std::string& file);

}  // namespace sb::runtime
