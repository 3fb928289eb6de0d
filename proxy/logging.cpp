#include "proxy/logging.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>

namespace sb::runtime {
namespace {

std::atomic<bool> g_access{true};

void append_json_escaped(std::string_view s, spdlog::memory_buf_t& out) {
  for (char c : s) {
    switch (c) {
      case '"':
        out.append(std::string_view("\\\""));
        break;
      case '\\':
        out.append(std::string_view("\\\\"));
        break;
      case '\n':
        out.append(std::string_view("\\n"));
        break;
      case '\r':
        out.append(std::string_view("\\r"));
        break;
      case '\t':
        out.append(std::string_view("\\t"));
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          fmt::format_to(std::back_inserter(out), "\\u{:04x}", static_cast<int>(c));
        } else {
          out.push_back(c);
        }
    }
  }
}

// %* in a JSON pattern: the message, escaped so that every line stays valid
// JSON whatever a peer put into it.
class JsonMessageFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    append_json_escaped(std::string_view(msg.payload.data(), msg.payload.size()), dest);
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JsonMessageFlag>();
  }
};

spdlog::level::level_enum to_spdlog(config::LogLevel l) {
  switch (l) {
    case config::LogLevel::trace:
      return spdlog::level::trace;
    case config::LogLevel::debug:
      return spdlog::level::debug;
    case config::LogLevel::info:
      return spdlog::level::info;
    case config::LogLevel::warn:
      return spdlog::level::warn;
    case config::LogLevel::error:
      return spdlog::level::err;
    case config::LogLevel::critical:
      return spdlog::level::critical;
    case config::LogLevel::off:
      return spdlog::level::off;
  }
  return spdlog::level::info;
}

}  // namespace

void configure_logging(const config::LogConfig& log) {
  static auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  auto logger = std::make_shared<spdlog::logger>("switchboard", sink);
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  if (log.format == config::LogFormat::json) {
    formatter->add_flag<JsonMessageFlag>('*').set_pattern(
        R"({"time":"%Y-%m-%dT%H:%M:%S.%e%z","level":"%l","msg":"%*"})");
  } else {
    formatter->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %l %v");
  }
  logger->set_formatter(std::move(formatter));
  logger->set_level(to_spdlog(log.level));
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(logger);
  g_access.store(log.access);
}

bool access_log_enabled() {
  return g_access.load(std::memory_order_relaxed);
}

void write_access_log(const AccessRecord& r) {
  if (!access_log_enabled() || !spdlog::default_logger_raw()->should_log(spdlog::level::info)) {
    return;
  }
  // One key=value line in both formats; in JSON it becomes the escaped "msg".
  const double ms = std::chrono::duration<double, std::milli>(r.duration).count();
  spdlog::info(
      "access listener={} client={} pool={} server={} upstream={} bytes_in={} bytes_out={} "
      "duration_ms={:.3f} outcome={} retries={}",
      r.listener, r.client, r.pool, r.server.empty() ? "-" : r.server,
      r.upstream.empty() ? "-" : r.upstream, r.bytes_in, r.bytes_out, ms, r.outcome, r.retries);
}

}  // namespace sb::runtime
