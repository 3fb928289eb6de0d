#include "proxy/control/service_notify.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include <cstring>
#include <ctime>
#include <string>

namespace sb::runtime {
namespace {

void send(const std::string& state) {
  // 0 when there is no notify socket: not under systemd, nothing to say.
  if (const int r = ::sd_notify(0, state.c_str()); r < 0) {
    spdlog::warn("systemd notify: {}", std::strerror(-r));
  }
}

// A STATUS= value is one line.
std::string one_line(std::string_view text) {
  std::string line(text);
  for (char& c : line) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return line;
}

}  // namespace

void notify_ready(std::string_view status) {
  send(fmt::format("READY=1\nSTATUS={}", one_line(status)));
}

// MONOTONIC_USEC: systemd 253's Type=notify-reload matches the reload it
// asked for with it; older ones ignore it.
void notify_reloading() {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  const auto usec = static_cast<unsigned long long>(now.tv_sec) * 1000000ULL +
                    static_cast<unsigned long long>(now.tv_nsec) / 1000ULL;
  send(fmt::format("RELOADING=1\nMONOTONIC_USEC={}\nSTATUS=reloading the configuration", usec));
}

void notify_stopping(std::string_view status) {
  send(fmt::format("STOPPING=1\nSTATUS={}", one_line(status)));
}

}  // namespace sb::runtime
