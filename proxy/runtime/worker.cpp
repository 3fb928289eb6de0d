#include "proxy/runtime/worker.h"

#include <spdlog/spdlog.h>

namespace sb::runtime {

Worker::Worker(unsigned id, PoolRegistry& pools, RelayMode relay_mode)
    : id_(id), pools_(pools), relay_mode_(relay_mode) {
  balancers_.reserve(pools_.size());
  for (std::size_t i = 0; i < pools_.size(); ++i) {
    const PoolRuntime& p = pools_.at(i);
    // A different seed per worker: their round-robin cursors start apart.
    balancers_.push_back(
        balancer::make_balancer(p.algorithm, p.snapshot, id_ * 7919u + i, p.options));
  }
}

void Worker::publish(std::size_t i, std::shared_ptr<const balancer::PoolSnapshot> snapshot) {
  asio::post(io_, [this, i, snapshot = std::move(snapshot)]() mutable {
    balancers_[i] = balancer::make_balancer(pools_.at(i).algorithm, std::move(snapshot),
                                            id_ * 7919u + i, pools_.at(i).options);
  });
}

tcp::acceptor& Worker::adopt_acceptor(tcp::acceptor acceptor) {
  acceptors_.push_back(std::move(acceptor));
  return acceptors_.back();
}

void Worker::stop_accepting() {
  asio::post(io_, [this] {
    for (auto& a : acceptors_) {
      error_code ignored;
      a.close(ignored);
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
