#include "proxy/worker/worker.h"

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
  });
}

void Worker::start() {
  thread_ = std::thread([this] {
    try {
      io_.run();
    } catch (const std::exception& e) {
      // Sessions catch their own errors; reaching here is a bug, but one
      // worker must not take the process down silently.
      spdlog::critical("worker {} stopped by an exception: {}", id_, e.what());
    }
  });
}

void Worker::stop() {
  io_.stop();
}

void Worker::join() {
  if (thread_.joinable()) thread_.join();
}

}  // namespace sb::runtime
