#pragma once
// The one place that pulls in Asio for the runtime, with the aliases every
// runtime file uses. Expected network errors are values (as_tuple), never
// exceptions on the data path (ARCHITECTURE.md §4).

#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>

namespace sb::runtime {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using udp = asio::ip::udp;
using error_code = boost::system::error_code;
template <class T = void>
using awaitable = asio::awaitable<T>;
// Completion token that returns (error_code, ...) instead of throwing.
inline constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);
using namespace asio::experimental::awaitable_operators;

}  // namespace sb::runtime
