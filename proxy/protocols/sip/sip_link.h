#pragma once
// One SIP-over-TCP connection, to a caller (accepted) or to a server (made
// by the proxy): messages framed by Content-Length in, messages queued out.
// Writes never wait for each other: send() appends to a queue that one
// writer drains; a peer that lets more than kMaxQueued bytes pile up is
// disconnected (its messages are retransmitted by SIP's end points, or the
// call fails over). Worker thread only.

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "proxy/asio.h"

namespace sb::sip {

// The proxy's Asio aliases (proxy/asio.h) in this namespace too.
namespace asio = boost::asio;
using net::awaitable;
using net::error_code;
using net::tcp;
using net::udp;
using net::use_nothrow;

class SipLink : public std::enable_shared_from_this<SipLink> {
 public:
  static constexpr std::size_t kMaxQueued = 1 << 20;

  // `connected`: an accepted socket; else connect() first.
  SipLink(tcp::socket socket, tcp::endpoint remote, bool connected);
  SipLink(const SipLink&) = delete;
  SipLink& operator=(const SipLink&) = delete;

  // Queues a message; sent once connected. False when the link is closed or
  // its queue is full (then it closes).
  bool send(std::string_view bytes);
  // Each framed message goes to `on_message`; returns when the connection
  // ends: closed, reset, `idle` without a byte, or a message over the size
  // limit (`on_too_large` is told first).
  using OnMessage = std::function<void(std::string_view)>;
  awaitable<void> read(OnMessage on_message, std::function<void()> on_too_large,
                       std::chrono::milliseconds idle);
  // Connects within `timeout`; false on failure (the link is closed then).
  awaitable<bool> connect(std::chrono::milliseconds timeout);
  void close();

  bool open() const { return open_; }
  bool connected() const { return connected_; }
  const tcp::endpoint& remote() const { return remote_; }
  const tcp::endpoint& local() const { return local_; }

 private:
  awaitable<void> write_loop();

  tcp::socket socket_;
  tcp::endpoint remote_;
  tcp::endpoint local_;
  bool open_ = true;
  bool connected_ = false;
  bool writing_ = false;
  std::string queued_;
  std::string sending_;
};

}  // namespace sb::sip
