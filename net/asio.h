#pragma once
// The one place that pulls in Asio for the networking floor and the modules
// above it, with the aliases they use. Expected network errors are values
// (as_tuple), never exceptions on the data path (docs/architecture.md).

#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>

namespace sb::net {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using udp = asio::ip::udp;
using error_code = boost::system::error_code;
template <class T = void>
using awaitable = asio::awaitable<T>;
// Completion token that returns (error_code, ...) instead of throwing.
inline constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);

}  // namespace sb::net
