#include "proxy/protocols/sip/sip_link.h"

#include <utility>

#include "net/codec/sip_message.h"
#include "net/connect.h"
#include "net/socket_deadline.h"

namespace sb::sip {

SipLink::SipLink(tcp::socket socket, tcp::endpoint remote, bool connected)
    : socket_(std::move(socket)), remote_(remote), connected_(connected) {
  if (connected_) {
    error_code ignored;
    local_ = socket_.local_endpoint(ignored);
  }
}

bool SipLink::send(std::string_view bytes) {
  if (!open_) return false;
  if (queued_.size() + bytes.size() > kMaxQueued) {
    close();
    return false;
  }
  queued_ += bytes;
  if (connected_ && !writing_) {
    writing_ = true;
    asio::co_spawn(
        socket_.get_executor(), [self = shared_from_this()] { return self->write_loop(); },
        asio::detached);
  }
  return true;
}

awaitable<void> SipLink::write_loop() {
  while (open_ && !queued_.empty()) {
    std::swap(sending_, queued_);
    queued_.clear();
    auto [ec, n] = co_await asio::async_write(socket_, asio::buffer(sending_), use_nothrow);
    sending_.clear();
    if (ec) {
      close();
      break;
    }
  }
  writing_ = false;
}

awaitable<bool> SipLink::connect(std::chrono::milliseconds timeout) {
  net::SocketDeadline deadline(socket_, timeout);
  const error_code ec = co_await net::connect_nonblocking(socket_, remote_);
  co_await deadline.disarm();
  if (ec || !open_) {
    close();
    co_return false;
  }
  error_code ignored;
  socket_.set_option(tcp::no_delay(true), ignored);
  local_ = socket_.local_endpoint(ignored);
  connected_ = true;
  if (!queued_.empty() && !writing_) {
    writing_ = true;
    asio::co_spawn(
        socket_.get_executor(), [self = shared_from_this()] { return self->write_loop(); },
        asio::detached);
  }
  co_return true;
}

awaitable<void> SipLink::read(OnMessage on_message, std::function<void()> on_too_large,
                              std::chrono::milliseconds idle) {
  std::string buffer;
  buffer.reserve(4096);
  std::size_t used = 0;
  for (;;) {
    // Messages already complete are handled before reading more.
    for (;;) {
      std::string_view data(buffer.data(), used);
      std::size_t skip = 0;
      // CRLF keep-alives between messages (RFC 5626 §3.5.1): a double CRLF
      // gets a single CRLF back.
      while (data.size() - skip >= 2 && data.substr(skip, 2) == "\r\n") {
        if (data.substr(skip, 4) == "\r\n\r\n") {
          send("\r\n");
          skip += 4;
        } else {
          skip += 2;
        }
      }
      data.remove_prefix(skip);
      const auto length = net::sip_message_length(data);
      if (!length) {
        buffer.erase(0, skip);
        used -= skip;
        break;
      }
      if (*length > net::kMaxSipMessage) {
        on_too_large();
        close();
        co_return;
      }
      on_message(data.substr(0, *length));
      buffer.erase(0, skip + *length);
      used -= skip + *length;
    }
    if (!open_) co_return;
    if (used >= net::kMaxSipMessage) {
      // No message ends within the limit (a header block or a body too big).
      on_too_large();
      close();
      co_return;
    }
    if (buffer.size() < used + 4096) buffer.resize(used + 4096);
    net::SocketDeadline deadline(socket_, idle, net::OnExpiry::cancel_and_shutdown);
    auto [ec, n] = co_await socket_.async_read_some(
        asio::buffer(buffer.data() + used, buffer.size() - used), use_nothrow);
    co_await deadline.disarm();
    if (ec) {
      close();
      co_return;
    }
    used += n;
  }
}

void SipLink::close() {
  if (!open_) return;
  open_ = false;
  // A closed link may stay referenced (a call's caller) for hours: what it
  // had queued goes now.
  std::string().swap(queued_);
  error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
}

}  // namespace sb::sip
