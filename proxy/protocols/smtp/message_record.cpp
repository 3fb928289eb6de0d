#include "proxy/protocols/smtp/message_record.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace sb::runtime::smtp {
namespace {

// write() until all of it is written (a regular file: short writes only
// when the disk fills up, which then fails with ENOSPC).
bool write_all(int fd, const char* data, std::size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, data, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

}  // namespace

MessageRecord::~MessageRecord() {
  clear();
}

bool MessageRecord::spool() {
  // Unnamed from the start. Filesystems without O_TMPFILE (some overlay and
  // network ones): a named file, unlinked at once.
  fd_ = ::open(spool_dir_.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd_ < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
    std::string path = spool_dir_ + "/switchboard-spool-XXXXXX";
    fd_ = ::mkostemp(path.data(), O_CLOEXEC);
    if (fd_ >= 0) ::unlink(path.c_str());
  }
  if (fd_ < 0) {
    error_ = "spool file in " + spool_dir_ + ": " + std::strerror(errno);
    return false;
  }
  if (!write_all(fd_, memory_.data(), memory_.size())) {
    error_ = "spool file in " + spool_dir_ + ": " + std::strerror(errno);
    return false;
  }
  std::string().swap(memory_);  // the memory goes back now, not at clear()
  return true;
}

bool MessageRecord::append(std::string_view bytes) {
  if (!error_.empty()) return false;
  if (fd_ < 0 && memory_.size() + bytes.size() > memory_limit_ && !spool()) return false;
  if (fd_ >= 0) {
    if (!write_all(fd_, bytes.data(), bytes.size())) {
      error_ = "spool file in " + spool_dir_ + ": " + std::strerror(errno);
      return false;
    }
  } else {
    memory_.append(bytes);
  }
  size_ += bytes.size();
  return true;
}

void MessageRecord::drop_last(std::uint64_t n) {
  if (n > size_) n = size_;
  size_ -= n;
  // The file keeps the bytes past size_; read() never reaches them.
  if (fd_ < 0) memory_.resize(static_cast<std::size_t>(size_));
}

std::size_t MessageRecord::read(std::uint64_t offset, std::span<char> out) const {
  if (offset >= size_) return 0;
  std::size_t n = out.size();
  if (n > size_ - offset) n = static_cast<std::size_t>(size_ - offset);
  if (fd_ < 0) {
    std::memcpy(out.data(), memory_.data() + offset, n);
    return n;
  }
  for (;;) {
    const ssize_t r = ::pread(fd_, out.data(), n, static_cast<off_t>(offset));
    if (r < 0 && errno == EINTR) continue;
    return r < 0 ? 0 : static_cast<std::size_t>(r);
  }
}

void MessageRecord::clear() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  size_ = 0;
  error_.clear();
  if (memory_.capacity() > 64 * 1024) {
    std::string().swap(memory_);
  } else {
    memory_.clear();
  }
}

std::string default_spool_dir() {
  const char* tmp = std::getenv("TMPDIR");
  return tmp && tmp[0] == '/' ? std::string(tmp) : std::string("/tmp");
}

}  // namespace sb::runtime::smtp
