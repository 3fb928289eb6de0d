#pragma once
// Loads and validates a configuration file (docs/configuration.md). Every problem found is
// reported, not just the first, as `FILE:LINE:COL: message` with 1-based
// positions and FILE as the caller named it. Thread: any; pure apart from
// reading the file.

#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "proxy/config/config.h"

namespace sb::config {

struct ConfigError {
  std::string file;
  Mark mark;
  std::string message;
  // "FILE:LINE:COL: message"
  std::string to_string() const;
};

struct LoadResult {
  std::optional<Config> config;     // set only when errors is empty
  std::vector<ConfigError> errors;  // in file order
};

// Reads `path` and loads it; an unreadable file is one error at 1:1.
LoadResult load_config_file(const std::string& path);

// Loads YAML text; `file` is only used in messages.
LoadResult load_config_string(std::string_view yaml, const std::string& file);

}  // namespace sb::config
