// Entry points and the top level of the file: workers, shutdown-grace, log,
// admin, resolver; pools and listeners are in config_loader_{pools,listeners}.cpp.
// Cross-section checks that need the whole file (duplicate listen addresses)
// are here.

#include "proxy/config/config_loader.h"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>

#include <yaml-cpp/eventhandler.h>

#include "proxy/config/config_loader_internal.h"
#include "proxy/config/yaml_reader.h"

namespace sb::config {
namespace {

using detail::set;

constexpr std::string_view kTopKeys[] = {"workers",  "shutdown-grace", "log",   "admin",
                                         "resolver", "tuning",         "pools", "listeners"};
constexpr std::string_view kTuningKeys[] = {"accept", "relay", "connection-metrics"};
constexpr EnumName<AcceptModel> kAcceptModels[] = {{"per-worker", AcceptModel::per_worker},
                                                   {"shared", AcceptModel::shared}};
constexpr EnumName<RelayMode> kRelayModes[] = {
    {"auto", RelayMode::automatic}, {"copy", RelayMode::copy}, {"splice", RelayMode::splice}};
constexpr std::string_view kLogKeys[] = {"level", "format", "access"};
constexpr std::string_view kAdminKeys[] = {"listen", "token-file"};
constexpr std::string_view kResolverKeys[] = {"servers", "timeout", "attempts", "min-ttl",
                                              "max-ttl"};

constexpr EnumName<LogLevel> kLogLevels[] = {
    {"trace", LogLevel::trace}, {"debug", LogLevel::debug}, {"info", LogLevel::info},
    {"warn", LogLevel::warn},   {"error", LogLevel::error}, {"critical", LogLevel::critical},
    {"off", LogLevel::off},
};
constexpr EnumName<LogFormat> kLogFormats[] = {{"text", LogFormat::text},
                                               {"json", LogFormat::json}};

void load_workers(YamlReader& r, const Field& f, Config& config) {
  if (!r.expect_scalar(f, "\"auto\" or an integer 1..1024")) return;
  const std::string& text = f.value.Scalar();
  if (text == "auto") {
    config.workers = 0;  // one per core, decided at start
    return;
  }
  int value = 0;
  const bool digits = !text.empty() && text.size() <= 4 &&
                      text.find_first_not_of("0123456789") == std::string::npos;
  if (digits) value = std::stoi(text);
  if (!digits || value < 1 || value > 1024) {
    r.error(f, fmt::format("expected \"auto\" or an integer 1..1024, got \"{}\"", text));
    return;
  }
  config.workers = value;
}

void load_log(YamlReader& r, const Field& field, LogConfig& log) {
  r.for_each_entry(field, "log", "in log", kLogKeys, &log.marks, "", [&](const Field& f) {
    if (f.key == "level") {
      set(r.read_enum<LogLevel>(f, kLogLevels), log.level);
    } else if (f.key == "format") {
      set(r.read_enum<LogFormat>(f, kLogFormats), log.format);
    } else if (f.key == "access") {
      set(r.read_bool(f), log.access);
    }
  });
}

void load_admin(YamlReader& r, const Field& field, AdminConfig& admin) {
  r.for_each_entry(field, "admin", "in admin", kAdminKeys, &admin.marks, "", [&](const Field& f) {
    if (f.key == "listen") {
      set(r.read_address(f, HostRule::ip_only), admin.listen);
    } else if (f.key == "token-file") {
      set(r.read_string(f), admin.token_file);
    }
  });
}

void load_tuning(YamlReader& r, const Field& field, TuningConfig& tuning) {
  r.for_each_entry(field, "tuning", "in tuning", kTuningKeys, &tuning.marks, "",
                   [&](const Field& f) {
                     if (f.key == "accept") {
                       set(r.read_enum<AcceptModel>(f, kAcceptModels), tuning.accept);
                     } else if (f.key == "relay") {
                       set(r.read_enum<RelayMode>(f, kRelayModes), tuning.relay);
                     } else if (f.key == "connection-metrics") {
                       set(r.read_bool(f), tuning.connection_metrics);
                     }
                   });
}

void load_resolver(YamlReader& r, const Field& field, ResolverConfig& resolver) {
  std::optional<Field> max_ttl_field;
  const bool is_map = r.for_each_entry(
      field, "resolver", "in resolver", kResolverKeys, &resolver.marks, "", [&](const Field& f) {
        if (f.key == "servers") {
          if (const auto items = r.items(f)) {
            for (const Field& item : *items) {
              if (auto server = r.read_address(item, HostRule::ip_only)) {
                resolver.servers.push_back(*server);
              }
            }
          }
        } else if (f.key == "timeout") {
          set(r.read_duration(f, Min::positive), resolver.timeout);
        } else if (f.key == "attempts") {
          if (auto n = r.read_int(f, 1, 10)) resolver.attempts = static_cast<int>(*n);
        } else if (f.key == "min-ttl") {
          set(r.read_duration(f, Min::zero), resolver.min_ttl);
        } else if (f.key == "max-ttl") {
          max_ttl_field = f;
          set(r.read_duration(f, Min::positive), resolver.max_ttl);
        }
      });
  if (is_map && resolver.min_ttl > resolver.max_ttl) {
    const auto at = resolver.marks.find(max_ttl_field ? "max-ttl" : "min-ttl");
    r.error(at->second,
            fmt::format("resolver: min-ttl ({}) is greater than max-ttl ({})",
                        format_duration(resolver.min_ttl), format_duration(resolver.max_ttl)));
  }
}

// One textual form per address, so that "[::]:25" and "[0::0]:25" clash.
std::string canonical(const HostPort& address) {
  if (address.kind == HostPort::Kind::ipv6) {
    in6_addr bytes{};
    char text[INET6_ADDRSTRLEN] = {};
    if (inet_pton(AF_INET6, address.host.c_str(), &bytes) == 1 &&
        inet_ntop(AF_INET6, &bytes, text, sizeof text) != nullptr) {
      return fmt::format("[{}]:{}", text, address.port);
    }
  }
  return address.to_string();
}

// Two sockets cannot bind the same address and port (a dns or sip listener
// binds UDP and TCP, so protocols do not separate them either).
void check_listen_addresses(YamlReader& r, const Config& config) {
  std::map<std::string, std::string> owner;  // canonical address -> who binds it
  owner.emplace(canonical(config.admin.listen), "admin.listen");
  for (const ListenerConfig& listener : config.listeners) {
    for (const HostPort& address : listener.listen) {
      const std::string who = fmt::format("listener \"{}\"", listener.name);
      const auto [it, inserted] = owner.emplace(canonical(address), who);
      if (inserted) continue;
      r.error(address.mark, fmt::format("{}: listen address {} is already used by {}", who,
                                        address.to_string(), it->second));
    }
  }
}

void load_named(YamlReader& r, const Field& section, std::string_view kind,
                const std::function<void(const std::string&, const Field&)>& load) {
  r.for_each_entry(
      section, "", fmt::format("in {}", section.key), {}, nullptr, "", [&](const Field& entry) {
        if (!is_valid_object_name(entry.key)) {
          r.error(entry.key_mark, fmt::format("{} name \"{}\" is not valid: use letters, digits, "
                                              "\".\", \"_\" and \"-\"",
                                              kind, entry.key));
        }
        const Field body{"", fmt::format("{} \"{}\"", kind, entry.key), entry.key_mark,
                         entry.value};
        load(entry.key, body);
      });
}

void load_top(YamlReader& r, const YAML::Node& root, Config& config) {
  const Field top{"", "configuration", Mark{1, 1}, root};
  std::optional<Field> pools_field;
  std::optional<Field> listeners_field;
  r.for_each_entry(top, "", "at top level", kTopKeys, &config.marks, "", [&](const Field& f) {
    if (f.key == "workers") {
      load_workers(r, f, config);
    } else if (f.key == "shutdown-grace") {
      set(r.read_duration(f, Min::zero), config.shutdown_grace);
    } else if (f.key == "log") {
      load_log(r, f, config.log);
    } else if (f.key == "admin") {
      load_admin(r, f, config.admin);
    } else if (f.key == "resolver") {
      load_resolver(r, f, config.resolver);
    } else if (f.key == "tuning") {
      load_tuning(r, f, config.tuning);
    } else if (f.key == "pools") {
      pools_field = f;
    } else if (f.key == "listeners") {
      listeners_field = f;
    }
  });

  // Pools first, whatever the order in the file: listeners refer to them.
  bool pools_usable = true;
  if (pools_field) {
    pools_usable = pools_field->value.IsMap();
    load_named(r, *pools_field, "pool", [&](const std::string& name, const Field& body) {
      config.pools.push_back(detail::load_pool(r, name, body));
    });
  }
  if (listeners_field) {
    const std::vector<PoolConfig>* pools = pools_usable ? &config.pools : nullptr;
    load_named(r, *listeners_field, "listener", [&](const std::string& name, const Field& body) {
      config.listeners.push_back(detail::load_listener(r, name, body, pools));
    });
  }
  check_listen_addresses(r, config);
}

}  // namespace

std::string ConfigError::to_string() const {
  return fmt::format("{}:{}:{}: {}", file, mark.line, mark.column, message);
}

namespace {

// Where each document of a YAML stream has its root value (its start when
// it has none), and nothing else.
class DocumentStarts final : public YAML::EventHandler {
 public:
  std::vector<YAML::Mark> starts;
  void OnDocumentStart(const YAML::Mark& mark) override {
    starts.push_back(mark);
    root_seen_ = false;
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t) override { root(mark); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { root(mark); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                const std::string&) override {
    root(mark);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    root(mark);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    root(mark);
  }
  void OnMapEnd() override {}

 private:
  void root(const YAML::Mark& mark) {
    if (root_seen_ || starts.empty()) return;
    root_seen_ = true;
    starts.back() = mark;
  }
  bool root_seen_ = false;
};

// The first document of `text` (null when there is none), and where a second
// one starts, if any. Not YAML::LoadAll: yaml-cpp 0.7 never ends it on some
// inputs (a file holding just "," yields empty documents without end, each
// kept, until memory runs out), so at most two documents are read.
struct Documents {
  YAML::Node first;
  std::optional<Mark> second;
};
Documents read_documents(const std::string& text) {
  Documents out;
  out.first = YAML::Load(text);
  std::istringstream in(text);
  YAML::Parser parser(in);
  DocumentStarts starts;
  for (int i = 0; i < 2 && parser.HandleNextDocument(starts); ++i) {
  }
  if (starts.starts.size() > 1) out.second = to_mark(starts.starts[1]);
  return out;
}

}  // namespace

LoadResult load_config_string(std::string_view yaml, const std::string& file) {
  YamlReader reader;
  Config config;
  try {
    const Documents documents = read_documents(std::string(yaml));
    if (!documents.first.IsDefined() || documents.first.IsNull()) {
      reader.error(Mark{1, 1},
                   "the configuration is empty (expected a mapping with pools, "
                   "listeners, ...)");
    } else if (!documents.first.IsMap()) {
      reader.error(Mark{1, 1}, fmt::format("the top level must be a mapping (pools, listeners, "
                                           "...), got {}",
                                           describe(documents.first)));
    } else {
      load_top(reader, documents.first, config);
    }
    // yaml-cpp ends a document at a line indented less than the first key,
    // so a second document is usually an indentation mistake.
    if (documents.second) {
      reader.error(*documents.second,
                   "a second YAML document starts here; a configuration is one document "
                   "(check the indentation)");
    }
  } catch (const YAML::Exception& e) {
    // Syntax errors: the tree is unusable, so this is the only error.
    reader = YamlReader();
    reader.error(to_mark(e.mark), fmt::format("YAML syntax error: {}", e.msg));
  } catch (const std::exception& e) {
    reader = YamlReader();
    reader.error(Mark{1, 1}, fmt::format("cannot load the configuration: {}", e.what()));
  }

  LoadResult result;
  for (Diagnostic& d : reader.take_sorted()) {
    result.errors.push_back(ConfigError{file, d.mark, std::move(d.message)});
  }
  if (result.errors.empty()) result.config = std::move(config);
  return result;
}

LoadResult load_config_file(const std::string& path) {
  auto fail = [&](std::string message) {
    LoadResult result;
    result.errors.push_back(ConfigError{path, Mark{1, 1}, std::move(message)});
    return result;
  };
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return fail("cannot read: is a directory");
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail(fmt::format("cannot read: {}", std::strerror(errno)));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return fail(fmt::format("cannot read: {}", std::strerror(errno)));
  return load_config_string(text.str(), path);
}

}  // namespace sb::config
