// libFuzzer target for the configuration loader (proxy/config/config_loader.h):
// YAML text in, a Config or FILE:LINE:COL errors out.
//
// Properties checked on every input, beyond "no crash, no sanitizer report":
//  1. Exactly one of: a config, or one or more errors.
//  2. Every error names the file as given, a 1-based line and column, and a
//     non-empty message: an operator can always find what was wrong.
//  3. Loading the same text twice gives the same result (no hidden state).
// A violated property aborts, which libFuzzer reports as a crash with the input.
//
// The configuration is an operator's file, not a peer's bytes, but `check`
// and `run` read it as root and a reload reads it while traffic flows: a
// crash there is an outage.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "proxy/config/config_loader.h"

namespace {

void check(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "property violated: %s\n", what);
    std::abort();
  }
}

std::string errors_text(const sb::config::LoadResult& r) {
  std::string out;
  for (const auto& e : r.errors) out += e.to_string() + "\n";
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view yaml(reinterpret_cast<const char*>(data), size);
  const std::string file = "fuzz.yaml";
  const auto first = sb::config::load_config_string(yaml, file);
  check(first.config.has_value() != !first.errors.empty(), "a config or errors, not both");
  for (const auto& e : first.errors) {
    check(e.file == file, "error names the file");
    check(e.mark.line >= 1 && e.mark.column >= 1, "1-based line and column");
    check(!e.message.empty(), "error has a message");
    check(e.to_string().rfind(file + ":", 0) == 0, "FILE:LINE:COL: message");
  }
  const auto second = sb::config::load_config_string(yaml, file);
  check(second.config.has_value() == first.config.has_value(), "same outcome twice");
  check(errors_text(second) == errors_text(first), "same errors twice");
  return 0;
}
