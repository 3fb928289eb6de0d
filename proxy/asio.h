#pragma once
// The networking floor's Asio aliases (net/asio.h), in the proxy's own
// namespace, for every file of the proxy.

#include "net/asio.h"

namespace sb::runtime {

namespace asio = boost::asio;
using net::awaitable;
using net::error_code;
using net::tcp;
using net::udp;
using net::use_nothrow;
using namespace asio::experimental::awaitable_operators;

}  // namespace sb::runtime
