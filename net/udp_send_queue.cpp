#include "net/udp_send_queue.h"

#include <cerrno>

namespace sb::net {

void UdpSendQueue::add(int fd, const udp::endpoint& to, std::string_view bytes) {
  if (items_.size() == kMax) refused_ += flush();
  items_.push_back({fd, to, bytes_.size(), bytes.size()});
  bytes_ += bytes;
}

std::size_t UdpSendQueue::flush() {
  std::size_t refused = refused_;
  refused_ = 0;
  std::size_t begin = 0;
  while (begin < items_.size()) {
    // A run of datagrams over the same socket goes in one sendmmsg.
    std::size_t end = begin;
    while (end < items_.size() && items_[end].fd == items_[begin].fd) ++end;
    const std::size_t n = end - begin;
    msgs_.assign(n, mmsghdr{});
    iov_.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
      Item& item = items_[begin + i];
      iov_[i] = {bytes_.data() + item.offset, item.size};
      msghdr& h = msgs_[i].msg_hdr;
      h.msg_name = item.to.data();
      h.msg_namelen = static_cast<socklen_t>(item.to.size());
      h.msg_iov = &iov_[i];
      h.msg_iovlen = 1;
    }
    std::size_t sent = 0;
    while (sent < n) {
      const int r = ::sendmmsg(items_[begin].fd, msgs_.data() + sent,
                               static_cast<unsigned>(n - sent), MSG_DONTWAIT);
      if (r > 0) {
        sent += static_cast<std::size_t>(r);
      } else if (r < 0 && errno == EINTR) {
        continue;
      } else if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        refused += n - sent;  // the send buffer is full: drop the rest of this run
        break;
      } else {
        ++refused;  // this datagram is refused (an unreachable peer): send the rest
        ++sent;
      }
    }
    begin = end;
  }
  items_.clear();
  bytes_.clear();
  return refused;
}

}  // namespace sb::net
