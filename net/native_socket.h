#pragma once
// Sockets made non-blocking by the call that creates them, as haproxy and
// nginx make theirs: accept4(SOCK_NONBLOCK) and socket(SOCK_NONBLOCK). Asio
// creates a socket blocking and sets O_NONBLOCK with an ioctl at its first
// asynchronous operation: one syscall per socket, two per proxied
// connection. These functions hand Asio a descriptor that is already
// non-blocking and tell it so.
//
// They also tell Asio that the descriptor has no duplicate. Asio assumes an
// adopted descriptor may have one and removes it from epoll
// (EPOLL_CTL_DEL) before closing it; without a duplicate, close(2) removes
// it by itself. switchboard never duplicates a socket's descriptor.
//
// See docs/architecture.md, "Per-connection cost".

#include <boost/asio/ip/tcp.hpp>
#include <boost/system/error_code.hpp>

namespace sb::net {

// Opens `socket` (closed) for `protocol`, non-blocking and close-on-exec.
boost::system::error_code open_nonblocking(boost::asio::ip::tcp::socket& socket,
                                           const boost::asio::ip::tcp& protocol);

// One accept4 on `acceptor`'s descriptor into `socket` (closed, of any
// io_context), with the client's address in `peer`. would_block when no
// connection is waiting.
boost::system::error_code accept_nonblocking(boost::asio::ip::tcp::acceptor& acceptor,
                                             boost::asio::ip::tcp::socket& socket,
                                             boost::asio::ip::tcp::endpoint& peer);

}  // namespace sb::net
