#pragma once
// The message of one SMTP transaction as the client sent it (dot-stuffing
// and every byte unchanged), kept until a server has accepted it so that it
// can be replayed on the next one (docs/configuration.md, "smtp"). Up to
// `memory_limit` bytes live in memory; a larger message moves to a file in
// the spool directory that is unlinked from the start (O_TMPFILE): nothing is
// left on disk if the process dies, and no one else can open it.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace sb::runtime::smtp {

class MessageRecord {
 public:
  static constexpr std::size_t kMemoryLimit = 1024 * 1024;

  explicit MessageRecord(std::string spool_dir, std::size_t memory_limit = kMemoryLimit)
      : spool_dir_(std::move(spool_dir)), memory_limit_(memory_limit) {}
  ~MessageRecord();
  MessageRecord(const MessageRecord&) = delete;
  MessageRecord& operator=(const MessageRecord&) = delete;

  // Appends bytes. False when the spool file could not be made or written
  // (error() says why); the record is then unusable until clear().
  bool append(std::string_view bytes);
  // Drops the last `n` bytes (the terminating ".\r\n" that came with them).
  void drop_last(std::uint64_t n);
  // Reads up to out.size() bytes at `offset`; 0 at the end or on an error.
  std::size_t read(std::uint64_t offset, std::span<char> out) const;

  std::uint64_t size() const { return size_; }
  bool spooled() const { return fd_ >= 0; }
  const std::string& error() const { return error_; }
  // Empty again, memory released, the spool file closed (and so gone).
  void clear();

 private:
  bool spool();

  std::string spool_dir_;
  std::size_t memory_limit_;
  std::string memory_;
  int fd_ = -1;
  std::uint64_t size_ = 0;
  std::string error_;
};

// The spool directory when `smtp.spool-dir` is not set: $TMPDIR, else /tmp.
std::string default_spool_dir();

}  // namespace sb::runtime::smtp
