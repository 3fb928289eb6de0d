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

std::string printable(std::string_view line) {
  std::string out;
  for (char c : line.substr(0, 200)) {
    out.push_back(static_cast<unsigned char>(c) < 0x20 ? '?' : c);
  }
  return out;
}

}  // namespace sb::health::detail
