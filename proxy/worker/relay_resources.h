#pragma once
// Per-worker free lists of relay buffers and pipes. A connection holds a
// buffer (or a pipe) only while bytes are in flight and gives it back as soon
// as they are written, so an idle connection costs no buffer memory — the
// way haproxy keeps idle connections cheap. Worker-local: no locks.

#include <cstddef>
#include <memory>
#include <vector>

namespace sb::runtime {

class BufferPool {
 public:
  static constexpr std::size_t kBufferSize = 16 * 1024;

  class Lease {
   public:
    Lease(BufferPool& pool, std::unique_ptr<char[]> buf) : pool_(&pool), buf_(std::move(buf)) {}
    Lease(Lease&&) = default;
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (buf_) pool_->give_back(std::move(buf_));
    }
    char* data() { return buf_.get(); }
    static constexpr std::size_t size() { return kBufferSize; }

   private:
    BufferPool* pool_;
    std::unique_ptr<char[]> buf_;
  };

  Lease acquire();

 private:
  void give_back(std::unique_ptr<char[]> buf);
  std::vector<std::unique_ptr<char[]>> free_;
};

// A pipe for splice(2): socket -> pipe -> socket without copying to user space.
class PipePool {
 public:
  struct Pipe {
    int read_fd = -1;
    int write_fd = -1;
  };

  class Lease {
   public:
    Lease(PipePool& pool, Pipe pipe) : pool_(&pool), pipe_(pipe) {}
    Lease(Lease&& o) noexcept : pool_(o.pool_), pipe_(o.pipe_) { o.pipe_ = {}; }
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    int read_fd() const { return pipe_.read_fd; }
    int write_fd() const { return pipe_.write_fd; }
    bool valid() const { return pipe_.read_fd >= 0; }
    // The pipe may still hold bytes (the write side failed): close it rather
    // than hand stale data to the next connection.
    void discard();

   private:
    PipePool* pool_;
    Pipe pipe_;
  };

  PipePool() = default;
  PipePool(const PipePool&) = delete;
  PipePool& operator=(const PipePool&) = delete;
  ~PipePool();

  // An invalid lease when the process is out of descriptors.
  Lease acquire();

 private:
  void give_back(Pipe pipe);
  std::vector<Pipe> free_;
};

}  // namespace sb::runtime
