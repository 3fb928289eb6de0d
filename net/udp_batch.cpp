#include "net/udp_batch.h"

#include <cerrno>
#include <cstring>

namespace sb::net {

UdpBatch::UdpBatch(std::size_t max_in, std::size_t max_out)
    : max_in_(max_in), max_out_(max_out), in_(kSize * max_in), out_(kSize * max_out) {
  for (std::size_t i = 0; i < kSize; ++i) {
    in_iov_[i] = {in_.data() + i * max_in_, max_in_};
    in_msgs_[i].msg_hdr.msg_iov = &in_iov_[i];
    in_msgs_[i].msg_hdr.msg_iovlen = 1;
  }
}

std::size_t UdpBatch::receive(int fd) {
  replies_ = 0;
  for (std::size_t i = 0; i < kSize; ++i) {
    // The kernel overwrites the lengths: reset them for every call.
    in_msgs_[i].msg_hdr.msg_name = &names_[i];
    in_msgs_[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
    in_msgs_[i].msg_hdr.msg_control = nullptr;
    in_msgs_[i].msg_hdr.msg_controllen = 0;
    in_msgs_[i].msg_hdr.msg_flags = 0;
  }
  const int n = ::recvmmsg(fd, in_msgs_.data(), kSize, MSG_DONTWAIT, nullptr);
  return n > 0 ? static_cast<std::size_t>(n) : 0;
}

std::span<const std::uint8_t> UdpBatch::datagram(std::size_t i) const {
  return {in_.data() + i * max_in_, in_msgs_[i].msg_len};
}

udp::endpoint UdpBatch::source(std::size_t i) const {
  udp::endpoint ep;
  const socklen_t len = in_msgs_[i].msg_hdr.msg_namelen;
  if (len <= ep.capacity()) {
    std::memcpy(ep.data(), &names_[i], len);
    ep.resize(len);
  }
  return ep;
}

std::span<std::uint8_t> UdpBatch::reply_buffer(std::size_t i) {
  return {out_.data() + i * max_out_, max_out_};
}

void UdpBatch::reply(std::size_t i, std::size_t size) {
  out_iov_[replies_] = {out_.data() + i * max_out_, size};
  msghdr& h = out_msgs_[replies_].msg_hdr;
  h = {};
  h.msg_name = &names_[i];
  h.msg_namelen = in_msgs_[i].msg_hdr.msg_namelen;
  h.msg_iov = &out_iov_[replies_];
  h.msg_iovlen = 1;
  ++replies_;
}

std::size_t UdpBatch::send(int fd) {
  std::size_t next = 0;
  std::size_t refused = 0;
  while (next < replies_) {
    const int n = ::sendmmsg(fd, out_msgs_.data() + next, static_cast<unsigned>(replies_ - next),
                             MSG_DONTWAIT);
    if (n > 0) {
      next += static_cast<std::size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      refused += replies_ - next;  // the send buffer is full: drop the rest
      break;
    } else {
      ++refused;  // the kernel refuses this reply (say, an unreachable peer): send the rest
      ++next;
    }
  }
  replies_ = 0;
  return refused;
}

}  // namespace sb::net
