#pragma once
// Writes a few bytes the proxy owes a peer (an SMTP greeting or a 421 to the
// client, the bytes that came behind a PROXY header to the server) within a
// deadline: a peer that never reads cannot hold the connection, and its
// descriptors, for longer (docs/configuration.md, idle-timeout).
//
// Almost always the bytes fit in the socket's empty send buffer: one
// non-blocking send, no timer. Only what is left after it waits, under a
// SocketDeadline.

#include <chrono>
#include <cstddef>
#include <tuple>

#include "net/asio.h"

namespace sb::net {

// All of `data`, or an error (timed_out when the deadline passed); and the
// bytes written either way. Puts the socket in non-blocking mode.
awaitable<std::tuple<error_code, std::size_t>> write_within(
    tcp::socket& socket, asio::const_buffer data, std::chrono::steady_clock::duration timeout);

}  // namespace sb::net
