#include "proxy/worker/worker.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "proxy/front/accept_loop.h"
#include "proxy/front/listener.h"

namespace sb::runtime {

Worker::Worker(unsigned id, const config::TuningConfig& tuning)
    : id_(id), relay_mode_(tuning.relay), metrics_counting_(tuning.connection_metrics) {}

balancer::Balancer* Worker::balancer_for(const PoolRuntime& pool) {
  if (pool.index < pools_.size() && pools_[pool.index].runtime.get() == &pool) {
    return pools_[pool.index].balancer.get();
  }
  for (auto& slot : pools_) {
    if (slot.runtime->config.name == pool.config.name) return slot.balancer.get();
  }
  return nullptr;
}

void Worker::publish(std::shared_ptr<const PoolRuntime> pool,
                     std::shared_ptr<const balancer::PoolSnapshot> snapshot) {
  asio::post(io_, [this, pool = std::move(pool), snapshot = std::move(snapshot)]() mutable {
    if (pool->index >= pools_.size() || pools_[pool->index].runtime != pool) return;
    // A different seed per worker: their round-robin cursors start apart.
    pools_[pool->index].balancer = balancer::make_balancer(
        pool->algorithm, std::move(snapshot), id_ * 7919u + pool->index, pool->options);
  });
}

void Worker::install(WorkerGeneration generation) {
  std::vector<PoolSlot> pools;
  pools.reserve(generation.pools.size());
  for (auto& p : generation.pools) {
    const PoolRuntime& rt = *p.runtime;
    pools.push_back(
        {std::move(p.runtime), balancer::make_balancer(rt.algorithm, std::move(p.snapshot),
                                                       id_ * 7919u + rt.index, rt.options)});
  }
  pools_ = std::move(pools);

  std::vector<std::shared_ptr<AcceptorSlot>> kept;
  for (auto& a : generation.addresses) {
    if (a.opened) {
      auto slot = std::make_shared<AcceptorSlot>(AcceptorSlot{a.address, std::move(*a.opened),
                                                              std::move(a.udp_opened), a.listener,
                                                              std::move(a.targets)});
      serve_slot(*this, slot);
      kept.push_back(std::move(slot));
      continue;
    }
    const auto it = std::find_if(acceptors_.begin(), acceptors_.end(),
                                 [&](const auto& s) { return s->address == a.address; });
    if (it == acceptors_.end()) continue;  // not served by this worker (shared acceptor)
    (*it)->listener = a.listener;
    kept.push_back(*it);
  }
  for (auto& slot : acceptors_) {
    if (std::find(kept.begin(), kept.end(), slot) != kept.end()) continue;
    error_code ignored;
    slot->acceptor.close(ignored);  // its loop ends; open connections go on
    if (slot->udp) slot->udp->close(ignored);
  }
  acceptors_ = std::move(kept);

  for (auto it = listener_states_.begin(); it != listener_states_.end();) {
    const bool stays =
        std::any_of(generation.addresses.begin(), generation.addresses.end(), [&](const auto& a) {
          return a.listener->config.name == it->first.first &&
                 a.listener->config.protocol == it->first.second;
        });
    if (stays) {
      ++it;
      continue;
    }
    if (it->second.removed) it->second.removed();
    it = listener_states_.erase(it);
  }
}

Worker::ListenerState& Worker::listener_state(const std::string& listener,
                                              config::Protocol protocol) {
  return listener_states_[{listener, protocol}];
}

void Worker::post_install(WorkerGeneration generation) {
  // asio handlers must be copyable here only in name: a shared_ptr carries
  // the move-only acceptors.
  auto gen = std::make_shared<WorkerGeneration>(std::move(generation));
  asio::post(io_, [this, gen] { install(std::move(*gen)); });
}

void Worker::stop_accepting() {
  asio::post(io_, [this] {
    for (auto& slot : acceptors_) {
      error_code ignored;
      slot->acceptor.close(ignored);
      if (slot->udp) slot->udp->close(ignored);
    }
    stopping_ = true;
    keepalive_.clear();
  });
  close_idle();
}

void Worker::close_idle() {
  asio::post(io_, [this] {
    for (const IdleClient& c : idle_clients_) {
      if (stopping_ || (c.retired && c.retired->load(std::memory_order_relaxed))) {
        error_code ignored;
        c.socket->cancel(ignored);
      }
    }
  });
}

void Worker::start() {
  running_ = true;
  beat();
  thread_ = std::thread([this] {
    // A handler that throws unwinds only itself; Asio lets run() be called
    // again at once, and the worker's other connections go on. Sessions
    // catch their own errors, so reaching here is a bug.
    for (;;) {
      try {
        io_.run();
        break;
      } catch (...) {
        if (!survive("event loop", std::current_exception())) break;
      }
    }
    running_ = false;
  });
}

bool Worker::survive(std::string_view loop, std::exception_ptr e) {
  std::string what = "unknown exception";
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    what = ex.what();
  } catch (...) {
  }
  if (crashes_.allow(CrashBudget::Clock::now())) {
    spdlog::critical("worker {}: {} ended by an exception: {}; restarted", id_, loop, what);
    return true;
  }
  const std::string reason =
      fmt::format("worker {}: {} ended by an exception: {}; more than {} faults within {}s", id_,
                  loop, what, CrashBudget::kMaxCrashes, CrashBudget::kWindow.count());
  spdlog::critical("{}: stopping (exit 3)", reason);
  if (fatal_hook_) fatal_hook_(reason);
  return false;
}

void Worker::beat() {
  last_beat_.store(std::chrono::steady_clock::now().time_since_epoch().count(),
                   std::memory_order_relaxed);
  heartbeat_.expires_after(kHeartbeat);
  heartbeat_.async_wait([this](const error_code& ec) {
    if (!ec) beat();
  });
}

std::optional<std::chrono::steady_clock::duration> Worker::since_heartbeat() const {
  if (!running_) return std::nullopt;
  const auto last = std::chrono::steady_clock::time_point(
      std::chrono::steady_clock::duration(last_beat_.load(std::memory_order_relaxed)));
  return std::chrono::steady_clock::now() - last;
}

void Worker::stop() {
  io_.stop();
}

void Worker::join() {
  if (thread_.joinable()) thread_.join();
}

}  // namespace sb::runtime
