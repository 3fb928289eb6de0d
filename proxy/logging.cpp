#include "proxy/logging.h"

#include <spdlog/async.h>
#include <spdlog/async_logger.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>

#include "net/codec/escape.h"

namespace sb::runtime {
namespace {

// Lines waiting for the writer thread; when stderr is slower than the log,
// the oldest are dropped rather than stall a worker (and counted).
constexpr std::size_t kQueuedLines = 8192;

std::atomic<bool> g_access{false};
// Set before the workers start, kept until the process ends.
std::shared_ptr<spdlog::logger> g_access_logger;
std::size_t g_dropped_reported = 0;

// Writes JSON string content: what append_escaped leaves (printable ASCII)
// needs only '"' and '\' quoted.
struct JsonQuoted {
  spdlog::memory_buf_t& out;
  void push_back(char c) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
};

// %* in the text pattern: the message with every byte outside printable
// ASCII escaped (net/codec/escape.h), so that no peer's byte can break or
// forge a line, whichever message quoted it.
class TextMessageFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    net::append_escaped(std::string_view(msg.payload.data(), msg.payload.size()), dest);
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<TextMessageFlag>();
  }
};

// %* in the JSON pattern: the same, then quoted for a JSON string, so that
// every line stays valid JSON.
class JsonMessageFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    JsonQuoted out{dest};
    net::append_escaped(std::string_view(msg.payload.data(), msg.payload.size()), out);
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

std::unique_ptr<spdlog::formatter> make_formatter(config::LogFormat format) {
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  if (format == config::LogFormat::json) {
    formatter->add_flag<JsonMessageFlag>('*').set_pattern(
        R"({"time":"%Y-%m-%dT%H:%M:%S.%e%z","level":"%l","msg":"%*"})");
  } else {
    formatter->add_flag<TextMessageFlag>('*').set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %l %*");
  }
  return formatter;
}

}  // namespace

// Both loggers are asynchronous: a worker formats its message and queues it;
// one writer thread writes the lines to stderr, which the C library does not
// buffer (a line is out as soon as that thread has written it: nothing to
// flush). A slow reader of stderr (a full pipe to journald) then slows that
// thread, never a worker.
void configure_logging(const config::LogConfig& log) {
  if (!spdlog::thread_pool()) spdlog::init_thread_pool(kQueuedLines, 1);
  static auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  sink->set_formatter(make_formatter(log.format));
  const auto make = [&](const std::string& name) {
    spdlog::drop(name);
    auto logger = std::make_shared<spdlog::async_logger>(
        name, sink, spdlog::thread_pool(), spdlog::async_overflow_policy::overrun_oldest);
    spdlog::register_logger(logger);
    return logger;
  };
  auto logger = make("switchboard");
  logger->set_level(to_spdlog(log.level));
  spdlog::set_default_logger(logger);
  // The access log is a record of traffic, not a diagnostic: `level` does
  // not filter it, `access` alone switches it (docs/configuration.md, `log`).
  auto access = make("access");
  access->set_level(spdlog::level::info);
  g_access_logger = std::move(access);
  g_access.store(log.access);
}

void stop_logging() {
  g_access.store(false);
  spdlog::shutdown();  // writes what is queued
  // shutdown() leaves no default logger: a line logged after it (a static
  // destructor) goes to stderr directly instead of to a null logger.
  spdlog::set_default_logger(std::make_shared<spdlog::logger>(
      "switchboard", std::make_shared<spdlog::sinks::stderr_sink_mt>()));
}

void report_dropped_log_lines() {
  const auto pool = spdlog::thread_pool();
  if (!pool) return;
  const std::size_t dropped = pool->overrun_counter();
  if (dropped == g_dropped_reported) return;
  spdlog::warn("logging: {} lines dropped since the last report: stderr is slower than the log",
               dropped - g_dropped_reported);
  g_dropped_reported = dropped;
}

bool access_log_enabled() {
  return g_access.load(std::memory_order_relaxed);
}

void write_access_log(const AccessRecord& r) {
  if (!access_log_enabled()) return;
  // One key=value line in both formats; in JSON it becomes the escaped "msg".
  const double ms = std::chrono::duration<double, std::milli>(r.duration).count();
  g_access_logger->info(
      "access listener={} client={} pool={} server={} upstream={} bytes_in={} bytes_out={} "
      "duration_ms={:.3f} outcome={} retries={}",
      r.listener, r.client, r.pool, r.server.empty() ? "-" : r.server,
      r.upstream.empty() ? "-" : r.upstream, r.bytes_in, r.bytes_out, ms, r.outcome, r.retries);
}

void write_access_log(const SmtpAccessRecord& r) {
  if (!access_log_enabled()) return;
  const double ms = std::chrono::duration<double, std::milli>(r.duration).count();
  g_access_logger->info(
      "access listener={} client={} from=<{}> rcpts={} size={} duration_ms={:.3f} pool={} "
      "server={} tries={} result={} reply={}",
      r.listener, r.client, r.sender, r.recipients, r.size, ms, r.pool,
      r.server.empty() ? "-" : r.server, r.tries, r.result, r.reply);
}

void write_access_log(const HttpAccessRecord& r) {
  if (!access_log_enabled()) return;
  const double ms = std::chrono::duration<double, std::milli>(r.duration).count();
  const auto or_dash = [](std::string_view v) { return v.empty() ? std::string_view("-") : v; };
  g_access_logger->info(
      "access listener={} client={} method={} host={} path={} status={} bytes_in={} bytes_out={} "
      "duration_ms={:.3f} pool={} server={} retries={} protocol={} tls={} sni={} reason={}",
      r.listener, r.client, or_dash(r.method), or_dash(r.host), or_dash(r.path), r.status,
      r.bytes_in, r.bytes_out, ms, or_dash(r.pool), or_dash(r.server), r.retries, r.protocol,
      or_dash(r.tls_version), or_dash(r.sni), or_dash(r.reason));
}

}  // namespace sb::runtime
