#pragma once
// Helpers shared by the configuration loader's test files.

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "proxy/config/config_loader.h"

namespace sb::config::testing_util {

// Raw strings start with a newline for readability; line 1 is the next line.
inline std::string yaml(std::string_view raw) {
  if (!raw.empty() && raw.front() == '\n') raw.remove_prefix(1);
  return std::string(raw);
}

inline std::string dump(const LoadResult& result) {
  std::string out;
  for (const auto& e : result.errors) out += e.to_string() + "\n";
  return out;
}

inline Config load_ok(std::string_view raw) {
  LoadResult result = load_config_string(yaml(raw), "t.yaml");
  EXPECT_TRUE(result.errors.empty()) << dump(result);
  return result.config.value_or(Config{});
}

}  // namespace sb::config::testing_util
