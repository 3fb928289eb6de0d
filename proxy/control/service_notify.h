#pragma once
// Tells systemd (the notify socket of a Type=notify unit, NOTIFY_SOCKET)
// where the process is: READY=1 once every listener accepts, RELOADING=1 and
// READY=1 around a reload, STOPPING=1 at the start of a stop, each with a
// STATUS= line that `systemctl status` shows. Without NOTIFY_SOCKET every
// call does nothing. Control thread only.

#include <string_view>

namespace sb::runtime {

void notify_ready(std::string_view status);
void notify_reloading();
void notify_stopping(std::string_view status);

}  // namespace sb::runtime
