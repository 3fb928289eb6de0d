#pragma once
// Reaches the reactor's per-socket state behind an Asio socket,
// for the few places where switchboard tells Asio what it already knows
// about a descriptor (native_socket.h, readable_wait.h). Internal to sb_net.
//
// Asio 1.26 (Boost 1.81) keeps the implementation in a protected member of
// basic_socket; a pointer to it, named through a
// derived class, may be applied to any socket (a protected member's usual
// way out, no cast of the object). Only the epoll reactor is supported:
// that is what Asio uses on Linux unless io_uring is asked for.

#include <boost/asio/ip/tcp.hpp>

#if defined(BOOST_ASIO_HAS_IO_URING_AS_DEFAULT) || !defined(BOOST_ASIO_HAS_EPOLL)
#error "switchboard's socket fast paths expect Asio's epoll reactor"
#endif

namespace sb::net::detail {

template <class Object>
struct ImplAccess : Object {
  static auto& of(Object& object) { return (object.*(&ImplAccess::impl_)).get_implementation(); }
};

inline auto& impl_of(boost::asio::ip::tcp::socket& socket) {
  return ImplAccess<boost::asio::ip::tcp::socket>::of(socket);
}

}  // namespace sb::net::detail
