#include "proxy/accept_pause.h"

#include <spdlog/spdlog.h>

#include "net/connect.h"

namespace sb::runtime {

AcceptPause::AcceptPause(const asio::any_io_executor& executor, std::string who)
    : timer_(executor),
      who_(std::move(who)),
      last_report_(std::chrono::steady_clock::now() - kReportEvery) {}

awaitable<void> AcceptPause::after(const error_code& ec) {
  if (!net::is_local_fault(ec)) co_return;
  ++pauses_;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_report_ >= kReportEvery) {
    spdlog::warn("{}: accept failed: {}; pausing {}ms ({} pauses since the last report)", who_,
                 ec.message(), kPause.count(), pauses_);
    last_report_ = now;
    pauses_ = 0;
  }
  timer_.expires_after(kPause);
  co_await timer_.async_wait(use_nothrow);
}

}  // namespace sb::runtime
