#pragma once
// Keys and values that the configuration accepts (they are part of SPEC §3)
// but that this build cannot run yet. `switchboard run` refuses a file that
// uses them, naming the key and its position; `check` accepts them. Each
// entry disappears when the issue that implements it lands.

#include <string>
#include <vector>

#include "proxy/config/config.h"
#include "proxy/config/config_loader.h"

namespace sb::runtime {

std::vector<config::ConfigError> find_unimplemented(const config::Config& cfg,
                                                    const std::string& file);

}  // namespace sb::runtime
