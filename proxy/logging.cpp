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
std::atomic<bool> g_access_json{false};
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

// The access logger's lines: the same prefix as other lines in text; in
// JSON a whole object whose fields AccessLine wrote (escaped already).
std::unique_ptr<spdlog::formatter> make_access_formatter(config::LogFormat format) {
  if (format == config::LogFormat::text) return make_formatter(format);
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  formatter->set_pattern(R"({"time":"%Y-%m-%dT%H:%M:%S.%e%z","level":"%l","type":"access",%v})");
  return formatter;
}

// One access record, as `key=value` pairs after "access" (text) or as the
// typed fields of a JSON object (json): strings quoted and escaped, numbers
// as numbers, an empty string as "-" (text) or null (json).
class AccessLine {
 public:
  AccessLine() : json_(g_access_json.load(std::memory_order_relaxed)) {
    if (!json_) append("access");
  }

  AccessLine& text(std::string_view key, std::string_view value) {
    start(key);
    if (!json_) {
      append(value.empty() ? std::string_view("-") : value);
    } else if (value.empty()) {
      append("null");
    } else {
      quoted(value);
    }
    return *this;
  }
  AccessLine& number(std::string_view key, std::uint64_t value) {
    start(key);
    fmt::format_to(std::back_inserter(buf_), "{}", value);
    return *this;
  }
  AccessLine& millis(std::string_view key, std::chrono::steady_clock::duration d) {
    start(key);
    fmt::format_to(std::back_inserter(buf_), "{:.3f}",
                   std::chrono::duration<double, std::milli>(d).count());
    return *this;
  }
  // An SMTP path: `<path>` in text, a string in JSON; the null sender is
  // `<>` or "", never "-" or null.
  AccessLine& path(std::string_view key, std::string_view value) {
    start(key);
    if (json_) {
      quoted(value);
    } else {
      buf_.push_back('<');
      append(value);
      buf_.push_back('>');
    }
    return *this;
  }
  void write() { g_access_logger->info(std::string_view(buf_.data(), buf_.size())); }

 private:
  void quoted(std::string_view value) {
    buf_.push_back('"');
    JsonQuoted out{buf_};
    net::append_escaped(value, out);
    buf_.push_back('"');
  }
  void start(std::string_view key) {
    if (json_) {
      if (!first_) buf_.push_back(',');
      buf_.push_back('"');
      append(key);
      append("\":");
    } else {
      buf_.push_back(' ');
      append(key);
      buf_.push_back('=');
    }
    first_ = false;
  }
  void append(std::string_view v) { buf_.append(v.data(), v.data() + v.size()); }

  bool json_;
  bool first_ = true;
  spdlog::memory_buf_t buf_;
};

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
  // Its own sink for its own format; both write from the one writer thread,
  // so their lines never interleave.
  static auto access_sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  access_sink->set_formatter(make_access_formatter(log.format));
  g_access_json.store(log.format == config::LogFormat::json);
  const auto make = [&](const std::string& name) {
    spdlog::drop(name);
    auto logger = std::make_shared<spdlog::async_logger>(
        name, name == "access" ? access_sink : sink, spdlog::thread_pool(),
        spdlog::async_overflow_policy::overrun_oldest);
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
  AccessLine line;
  line.text("listener", r.listener)
      .text("client", r.client)
      .text("pool", r.pool)
      .text("server", r.server)
      .text("upstream", r.upstream)
      .number("bytes_in", r.bytes_in)
      .number("bytes_out", r.bytes_out)
      .millis("duration_ms", r.duration);
  if (!r.server.empty() && r.connect.count() > 0) line.millis("connect_ms", r.connect);
  if (r.first_byte.count() > 0) line.millis("first_byte_ms", r.first_byte);
  line.text("outcome", r.outcome).number("retries", static_cast<std::uint64_t>(r.retries));
  if (r.tried > 0) line.number("tried", static_cast<std::uint64_t>(r.tried));
  if (r.connection != 0) line.number("connection", r.connection);
  if (!r.frontend.empty()) line.text("frontend", r.frontend);
  line.write();
}

void write_access_log(const SmtpAccessRecord& r) {
  if (!access_log_enabled()) return;
  AccessLine line;
  line.text("listener", r.listener)
      .text("client", r.client)
      .path("from", r.sender)
      .number("rcpts", r.recipients)
      .number("size", r.size)
      .millis("duration_ms", r.duration)
      .text("pool", r.pool)
      .text("server", r.server)
      .number("tries", static_cast<std::uint64_t>(r.tries))
      .text("result", r.result)
      .number("reply", static_cast<std::uint64_t>(r.reply));
  if (r.connection != 0) line.number("connection", r.connection);
  line.write();
}

void write_access_log(const HttpAccessRecord& r) {
  if (!access_log_enabled()) return;
  AccessLine line;
  line.text("listener", r.listener)
      .text("client", r.client)
      .text("method", r.method)
      .text("host", r.host)
      .text("path", r.path)
      .number("status", static_cast<std::uint64_t>(r.status))
      .number("bytes_in", r.bytes_in)
      .number("bytes_out", r.bytes_out)
      .millis("duration_ms", r.duration);
  if (r.first_byte.count() > 0) line.millis("first_byte_ms", r.first_byte);
  line.text("pool", r.pool)
      .text("server", r.server)
      .number("retries", static_cast<std::uint64_t>(r.retries))
      .text("protocol", r.protocol)
      .text("tls", r.tls_version)
      .text("sni", r.sni)
      .text("reason", r.reason);
  if (r.connection != 0) line.number("connection", r.connection);
  line.write();
}

}  // namespace sb::runtime
