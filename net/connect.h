#pragma once
// A non-blocking connect on the event loop, shared by the proxy's connector
// and the health probes: socket(SOCK_NONBLOCK), connect() -> EINPROGRESS,
// wait for writability, SO_ERROR. Asio's async_connect does the same plus a poll(2)
// and a second epoll_ctl per connection; this runs per connection and per
// check. Bound it with a SocketDeadline. A socket already open (and bound,
// e.g. transparent) is used as it is.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/system/error_code.hpp>

namespace sb::net {

boost::asio::awaitable<boost::system::error_code> connect_nonblocking(
    boost::asio::ip::tcp::socket& socket, const boost::asio::ip::tcp::endpoint& target);

// Closes with a reset (SO_LINGER 0) instead of a FIN: a finished check
// leaves no TIME_WAIT behind (1000 servers checked every second would hold
// 60 000 of them) and costs one segment instead of a closing handshake, as
// HAProxy's checks do.
void close_with_reset(boost::asio::ip::tcp::socket& socket);

// An error of this host, not of the peer: no descriptor (EMFILE, ENFILE), no
// buffer or memory (ENOBUFS, ENOMEM), no source address or port
// (EADDRNOTAVAIL). Every other server would fail the same way, so it is no
// verdict on the server (docs/configuration.md, "Local faults").
bool is_local_fault(const boost::system::error_code& ec);

}  // namespace sb::net
