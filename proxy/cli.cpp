#include "proxy/cli.h"

#include <ares.h>
#include <fmt/format.h>
#include <nghttp2/nghttp2.h>
#include <openssl/crypto.h>
#include <spdlog/version.h>
#include <CLI/App.hpp>
#include <CLI/Config.hpp>
#include <CLI/Formatter.hpp>

#include <boost/version.hpp>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "git_commit.h"  // generated at build time (cmake/git_commit.cmake)
#include "proxy/config/config_loader.h"
#include "proxy/config/yaml_reader.h"
#include "proxy/control/runtime.h"
#include "proxy/control/tls_files.h"
#include "proxy/control/unsupported.h"
#include "proxy/mx_test.h"

namespace sb::cli {
namespace {

// Where `run` and `check` look without -c: where the package installs it.
constexpr const char* kDefaultConfig = "/etc/switchboard/switchboard.yaml";

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
  std::printf("switchboard %s (commit %s, build %s)\n", SWITCHBOARD_VERSION, SB_GIT_COMMIT,
              SB_BUILD_TYPE);
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

// The options of `mx-test` (README.md, "DNS round-robin and MX testing").
void add_mx_test_options(CLI::App& mx, mxtest::Options& o) {
  mx.add_option("DOMAIN", o.domain, "the mail domain whose MX records are tested")->required();
  mx.add_option_function<std::string>(
      "--dns", [&o](const std::string& server) { o.dns = server; },
      "ask this DNS server (HOST:PORT) instead of the system's");
  mx.add_option("--queries", o.queries, "MX queries to judge the rotation by")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  mx.add_option("--port", o.port, "the SMTP port probed on every address")
      ->check(CLI::Range(1, 65535))
      ->capture_default_str();
  mx.add_option_function<std::string>(
        "--timeout",
        [&o](const std::string& text) {
          o.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(
              *config::parse_duration(text).value);
        },
        "time limit of each DNS query and SMTP probe, e.g. 5s (default)")
      ->check(CLI::Validator(
          [](std::string& text) -> std::string {
            const auto d = config::parse_duration(text);
            if (d.value && d.value->count() > 0) return {};
            return fmt::format("must be a duration such as 5s, not \"{}\"", text);
          },
          "DURATION"));
  mx.add_flag("--json", o.json, "one JSON object instead of a table");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"switchboard: a load-balancing proxy for the front end of a mail system",
               "switchboard"};
  app.require_subcommand(0, 1);
  bool show_version = false;
  app.add_flag("--version", show_version, "the same as the version command");

  std::string config_file = kDefaultConfig;
  const auto add_config = [&](CLI::App* sub) {
    sub->add_option("-c,--config", config_file, "the configuration file")->capture_default_str();
  };
  auto* run = app.add_subcommand("run", "run the proxy in the foreground (logs to stderr)");
  add_config(run);
  auto* check = app.add_subcommand(
      "check", "validate a configuration: exit 0 if run would start with it, 1 if not");
  add_config(check);
  mxtest::Options mx_options;
  auto* mx = app.add_subcommand("mx-test", "test a domain's MX round-robin and probe its hosts");
  add_mx_test_options(*mx, mx_options);
  auto* version = app.add_subcommand("version", "versions of switchboard and its libraries");
  for (auto* sub : {run, check, mx, version}) sub->fallthrough(false);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) return app.exit(e);
    // Exit 2 for every usage error (README.md, "Command line"), whatever
    // CLI11's own code for it.
    std::fprintf(stderr, "switchboard: %s\nusage: see switchboard%s --help\n", e.what(),
                 app.get_subcommands().empty()
                     ? ""
                     : (" " + app.get_subcommands().front()->get_name()).c_str());
    return kUsage;
  }
  if (show_version && app.get_subcommands().empty()) return cmd_version();
  if (app.get_subcommands().empty()) {
    std::fprintf(stderr, "switchboard: a command is required\nusage: see switchboard --help\n");
    return kUsage;
  }
  if (run->parsed()) return cmd_run(config_file);
  if (check->parsed()) return cmd_check(config_file);
  if (mx->parsed()) {
    while (!mx_options.domain.empty() && mx_options.domain.back() == '.') {
      mx_options.domain.pop_back();
    }
    if (mx_options.domain.empty()) {
      std::fprintf(stderr,
                   "switchboard: mx-test needs a DOMAIN\nusage: see switchboard mx-test --help\n");
      return kUsage;
    }
    return mxtest::run(mx_options);
  }
  return cmd_version();
}

}  // namespace sb::cli
