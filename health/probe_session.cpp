#include "health/probe_session.h"

#include "net/endpoint.h"

#include <cstring>

namespace sb::health::detail {

asio::ip::address address_of(const CheckSpec& spec) {
  return net::to_address(spec.ip);
}

std::string failure(const boost::system::error_code& ec, bool deadline_expired,
                    std::string_view during) {
  if (deadline_expired) return fmt::format("timeout during {}", during);
  if (ec == asio::error::eof) return fmt::format("connection closed during {}", during);
  return fmt::format("{} during {}", ec.message(), during);
}

std::string uri_host(const asio::ip::address& address) {
  return address.is_v6() ? "[" + address.to_string() + "]" : address.to_string();
}

}  // namespace sb::health::detail
