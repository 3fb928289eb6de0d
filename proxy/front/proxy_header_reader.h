#pragma once
// Reads a PROXY v1/v2 header from a freshly accepted connection whose
// listener has `accept-proxy: true`, within `timeout`.

#include <chrono>
#include <optional>
#include <string_view>
#include <vector>

#include "net/codec/proxy_protocol.h"
#include "proxy/asio.h"

namespace sb::runtime {

struct ProxyHeaderRead {
  bool ok = false;
  net::ProxyAddresses addresses;
  std::vector<char> early_data;  // client bytes that arrived behind the header
  std::string_view error;        // when !ok: "timeout", "closed" or the codec's reason
};

awaitable<ProxyHeaderRead> read_proxy_header(tcp::socket& socket,
                                             std::chrono::milliseconds timeout);

}  // namespace sb::runtime
