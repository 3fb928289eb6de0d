#pragma once
// Receives and answers UDP datagrams in batches: one recvmmsg(2) for up to
// kSize datagrams and one sendmmsg(2) for their replies, instead of a
// recvfrom and a sendto each. At DNS packet rates the two syscalls per query
// are a large share of the CPU (bench dns-rr). The DNS listener uses it
// today; SIP over UDP will too.

#include <sys/socket.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "net/asio.h"

namespace sb::net {

class UdpBatch {
 public:
  static constexpr std::size_t kSize = 32;

  // `max_in`: the largest datagram read (longer ones are truncated by the
  // kernel); `max_out`: the largest reply.
  UdpBatch(std::size_t max_in, std::size_t max_out);
  UdpBatch(const UdpBatch&) = delete;
  UdpBatch& operator=(const UdpBatch&) = delete;

  // Reads up to kSize queued datagrams without blocking and forgets the
  // previous batch's replies. Returns how many arrived (0: none queued, or an
  // error such as ICMP noise that the next wakeup will not repeat).
  std::size_t receive(int fd);

  std::span<const std::uint8_t> datagram(std::size_t i) const;
  udp::endpoint source(std::size_t i) const;

  // Where the reply to datagram i is written; then queue it with reply().
  std::span<std::uint8_t> reply_buffer(std::size_t i);
  void reply(std::size_t i, std::size_t size);

  // Sends the queued replies without blocking. Returns how many the socket
  // refused (a full send buffer): those are dropped, the clients retry.
  std::size_t send(int fd);

 private:
  std::size_t max_in_;
  std::size_t max_out_;
  std::vector<std::uint8_t> in_;
  std::vector<std::uint8_t> out_;
  std::array<sockaddr_storage, kSize> names_{};
  std::array<iovec, kSize> in_iov_{};
  std::array<mmsghdr, kSize> in_msgs_{};
  std::array<iovec, kSize> out_iov_{};
  std::array<mmsghdr, kSize> out_msgs_{};
  std::size_t replies_ = 0;
};

}  // namespace sb::net
