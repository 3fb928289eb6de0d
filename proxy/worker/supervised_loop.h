#pragma once
// A worker's long-lived loop (an accept loop, a DNS datagram loop), started
// again when it ends by an exception while its socket is open and the
// worker's crash budget allows (docs/architecture.md, "When a worker
// fails"): a loop that is gone while its SO_REUSEPORT socket stays open
// would leave the kernel queueing a share of new connections or datagrams
// that nobody reads.

#include <string>
#include <utility>

#include "proxy/asio.h"
#include "proxy/worker/worker.h"

namespace sb::runtime {

// `make()` returns the loop's awaitable; `open()` says whether its socket is
// still open (a closed socket ends the loop for good). `what` names the
// loop in the log.
template <class Make, class Open>
void spawn_supervised(Worker& worker, std::string what, Make make, Open open) {
  auto loop = make();
  asio::co_spawn(worker.io(), std::move(loop),
                 [&worker, what = std::move(what), make = std::move(make),
                  open = std::move(open)](std::exception_ptr e) mutable {
                   if (!e) return;
                   if (worker.survive(what, e) && open()) {
                     spawn_supervised(worker, std::move(what), std::move(make), std::move(open));
                   }
                 });
}

}  // namespace sb::runtime
