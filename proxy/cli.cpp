#include "proxy/cli.h"

#include <ares.h>
#include <fmt/format.h>
#include <nghttp2/nghttp2.h>
#include <openssl/crypto.h>
#include <spdlog/version.h>

#include <boost/version.hpp>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/config/config_loader.h"
#include "proxy/control/runtime.h"
#include "proxy/control/tls_files.h"
#include "proxy/control/unsupported.h"
#include "proxy/mx_test.h"

namespace sb::cli {
namespace {

constexpr std::string_view kUsageText =
    "usage: switchboard run -c FILE        run the proxy in the foreground\n"
    "       switchboard check -c FILE      validate a configuration\n"
    "       switchboard mx-test DOMAIN [--dns HOST:PORT] [--queries N] [--port 25]\n"
    "                                      [--timeout 5s] [--json]\n"
    "       switchboard version            versions of switchboard and its libraries\n";

int usage_error(std::string_view message) {
  std::fprintf(stderr, "switchboard: %.*s\n%.*s", static_cast<int>(message.size()), message.data(),
               static_cast<int>(kUsageText.size()), kUsageText.data());
  return kUsage;
}

// Finds -c FILE, --config FILE or --config=FILE; nothing else is accepted.
std::optional<std::string> config_path(const std::vector<std::string_view>& args,
                                       std::string& error) {
  std::optional<std::string> path;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view a = args[i];
    if (a == "-c" || a == "--config") {
      if (i + 1 >= args.size()) {
        error = fmt::format("{} needs a file name", a);
        return std::nullopt;
      }
      path = std::string(args[++i]);
    } else if (a.starts_with("--config=")) {
      path = std::string(a.substr(9));
    } else {
      error = fmt::format("unexpected argument \"{}\"", a);
      return std::nullopt;
    }
  }
  if (!path) error = "-c FILE is required";
  return path;
}

void print_errors(const std::vector<config::ConfigError>& errors) {
  for (const auto& e : errors) std::fprintf(stderr, "%s\n", e.to_string().c_str());
}

// The file's errors, then what this build cannot run: `check` and `run`
// refuse the same files.
std::optional<config::LoadResult> load_runnable(const std::string& path) {
  auto result = config::load_config_file(path);
  if (!result.errors.empty()) {
    print_errors(result.errors);
    return std::nullopt;
  }
  const auto unsupported = runtime::find_unsupported(*result.config, path);
  if (!unsupported.empty()) {
    print_errors(unsupported);
    return std::nullopt;
  }
  const auto tls = runtime::find_tls_problems(*result.config, path);
  if (!tls.empty()) {
    print_errors(tls);
    return std::nullopt;
  }
  return result;
}

int cmd_check(const std::string& path) {
  if (!load_runnable(path)) return kInvalid;
  std::printf("%s: configuration is valid\n", path.c_str());
  return kOk;
}

int cmd_run(const std::string& path) {
  const auto result = load_runnable(path);
  if (!result) return kInvalid;
  return runtime::run(*result->config, path);
}

int cmd_version() {
  std::printf("switchboard %s\n", SWITCHBOARD_VERSION);
  std::printf("  boost %d.%d.%d\n", BOOST_VERSION / 100000, BOOST_VERSION / 100 % 1000,
              BOOST_VERSION % 100);
  std::printf("  %s\n", OpenSSL_version(OPENSSL_VERSION));
  std::printf("  c-ares %s\n", ares_version(nullptr));
  std::printf("  nghttp2 %s\n", nghttp2_version(0)->version_str);
  std::printf("  yaml-cpp %s\n", SB_YAML_CPP_VERSION);
  std::printf("  prometheus-cpp %s\n", SB_PROMETHEUS_CPP_VERSION);
  std::printf("  spdlog %d.%d.%d, fmt %d.%d.%d\n", SPDLOG_VER_MAJOR, SPDLOG_VER_MINOR,
              SPDLOG_VER_PATCH, FMT_VERSION / 10000, FMT_VERSION / 100 % 100, FMT_VERSION % 100);
#ifdef SWITCHBOARD_FAULT_HOOKS
  std::printf("  test fault hooks built in: not for production\n");
#endif
  return kOk;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string_view> args(argv + 1, argv + argc);
  if (args.empty()) return usage_error("a command is required");
  const std::string_view cmd = args.front();
  args.erase(args.begin());
  if (cmd == "-h" || cmd == "--help" || cmd == "help") {
    std::fputs(std::string(kUsageText).c_str(), stdout);
    return kOk;
  }
  if (cmd == "version" || cmd == "--version") {
    if (!args.empty()) return usage_error("version takes no arguments");
    return cmd_version();
  }
  if (cmd == "run" || cmd == "check") {
    std::string error;
    const auto path = config_path(args, error);
    if (!path) return usage_error(error);
    return cmd == "run" ? cmd_run(*path) : cmd_check(*path);
  }
  if (cmd == "mx-test") {
    std::string error;
    const auto options = mxtest::parse_args(args, error);
    if (!options) return usage_error(error);
    return mxtest::run(*options);
  }
  return usage_error(fmt::format("unknown command \"{}\"", cmd));
}

}  // namespace sb::cli
