#pragma once
// Datagrams to many destinations over a few sockets, sent in batches: what a
// SIP proxy writes while it handles one batch of received datagrams (answers
// to callers, requests to servers, retransmissions) leaves in one
// sendmmsg(2) per socket at the end instead of a sendto each.

#include <sys/socket.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "net/asio.h"

namespace sb::net {

class UdpSendQueue {
 public:
  // Queues a copy of `bytes` for `to` over socket `fd`; sends what is queued
  // first when the queue is full.
  void add(int fd, const udp::endpoint& to, std::string_view bytes);
  // Sends everything queued, without blocking. Returns how many datagrams
  // the sockets refused (a full send buffer, an unreachable peer): dropped;
  // SIP retransmits.
  std::size_t flush();
  bool empty() const { return items_.empty(); }

 private:
  static constexpr std::size_t kMax = 64;
  struct Item {
    int fd;
    udp::endpoint to;
    std::size_t offset;
    std::size_t size;
  };
  std::vector<Item> items_;
  std::string bytes_;  // the queued datagrams, back to back
  std::size_t refused_ = 0;
  std::vector<mmsghdr> msgs_;
  std::vector<iovec> iov_;
};

}  // namespace sb::net
