#include "proxy/upstream/keepalive_pool.h"

#include <sys/socket.h>

#include <cerrno>

namespace sb::runtime {

bool idle_connection_usable(net::Stream& stream) {
  if (!stream.socket().is_open()) return false;
  if (SSL* ssl = stream.ssl(); ssl && SSL_pending(ssl) > 0) return false;
  char byte;
  const ssize_t n = ::recv(stream.socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

std::optional<net::Stream> KeepalivePool::take(std::uint64_t server_id, bool always_check) {
  auto it = by_server_.find(server_id);
  if (it == by_server_.end()) return std::nullopt;
  auto& idle = it->second;
  const auto now = std::chrono::steady_clock::now();
  while (!idle.empty()) {
    Idle entry = std::move(idle.back());
    idle.pop_back();
    --idle_count_;
    // One given back within the last second skips the peek (a syscall
    // per request on a busy pool): the sweep looks at it within a second,
    // and a server that closes a kept connection that fast is rare (it says
    // Connection: close instead, and such a connection is never kept).
    const bool fresh = !always_check && now - entry.since < std::chrono::seconds(1);
    if (entry.expires > now &&
        (fresh ? entry.stream.socket().is_open() : idle_connection_usable(entry.stream))) {
      return std::move(entry.stream);
    }
    entry.stream.close();
  }
  return std::nullopt;
}

void KeepalivePool::give_back(std::uint64_t server_id, net::Stream stream, int max_idle,
                              std::chrono::milliseconds idle_timeout) {
  auto& idle = by_server_[server_id];
  if (static_cast<int>(idle.size()) >= max_idle) {
    stream.close();
    return;
  }
  const auto now = std::chrono::steady_clock::now();
  idle.push_back(Idle{std::move(stream), now, now + idle_timeout});
  ++idle_count_;
  schedule_sweep();
}

void KeepalivePool::clear() {
  for (auto& [id, idle] : by_server_) {
    for (Idle& entry : idle) entry.stream.close();
  }
  by_server_.clear();
  idle_count_ = 0;
  sweep_.cancel();
}

void KeepalivePool::schedule_sweep() {
  if (sweep_scheduled_) return;
  sweep_scheduled_ = true;
  sweep_.expires_after(std::chrono::seconds(1));
  sweep_.async_wait([this](const error_code& ec) {
    sweep_scheduled_ = false;
    if (ec) return;
    sweep();
  });
}

void KeepalivePool::sweep() {
  const auto now = std::chrono::steady_clock::now();
  for (auto it = by_server_.begin(); it != by_server_.end();) {
    auto& idle = it->second;
    for (auto e = idle.begin(); e != idle.end();) {
      if (e->expires <= now || !idle_connection_usable(e->stream)) {
        e->stream.close();
        e = idle.erase(e);
        --idle_count_;
      } else {
        ++e;
      }
    }
    it = idle.empty() ? by_server_.erase(it) : std::next(it);
  }
  if (idle_count_ > 0) schedule_sweep();
}

}  // namespace sb::runtime
