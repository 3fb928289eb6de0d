#include "proxy/worker/relay_resources.h"

#include <fcntl.h>
#include <unistd.h>

#include "proxy/worker/fault_hooks.h"

namespace sb::runtime {
namespace {
// Enough for bursts of many connections at once; beyond this, returned
// buffers and pipes are freed so that a spike does not pin memory forever.
constexpr std::size_t kMaxFreeBuffers = 1024;
constexpr std::size_t kMaxFreePipes = 256;
}  // namespace

BufferPool::Lease BufferPool::acquire() {
  if (free_.empty()) return Lease(*this, std::make_unique<char[]>(kBufferSize));
  auto buf = std::move(free_.back());
  free_.pop_back();
  return Lease(*this, std::move(buf));
}

void BufferPool::give_back(std::unique_ptr<char[]> buf) {
  if (free_.size() < kMaxFreeBuffers) free_.push_back(std::move(buf));
}

PipePool::Lease::~Lease() {
  if (valid()) pool_->give_back(pipe_);
}

void PipePool::Lease::discard() {
  if (!valid()) return;
  ::close(pipe_.read_fd);
  ::close(pipe_.write_fd);
  pipe_ = {};
}

PipePool::~PipePool() {
  for (const Pipe& p : free_) {
    ::close(p.read_fd);
    ::close(p.write_fd);
  }
}

PipePool::Lease PipePool::acquire() {
  if (!free_.empty()) {
    Pipe p = free_.back();
    free_.pop_back();
    return Lease(*this, p);
  }
  int fds[2];
  if (armed_fault() == Fault::no_pipe) return Lease(*this, {});  // test builds only
  if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) return Lease(*this, {});
  return Lease(*this, {fds[0], fds[1]});
}

void PipePool::give_back(Pipe pipe) {
  if (free_.size() < kMaxFreePipes) {
    free_.push_back(pipe);
    return;
  }
  ::close(pipe.read_fd);
  ::close(pipe.write_fd);
}

}  // namespace sb::runtime
