#pragma once
// Internals shared by the probes (not part of the health module's interface):
// the target endpoint, failure wording, transcript lines, the TLS client
// context, and a line-reading session over a plain or TLS stream.

#include <fmt/format.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "health/check_spec.h"
#include "health/probe.h"
#include "net/codec/escape.h"
#include "net/codec/smtp_reply.h"
#include "net/connect.h"
#include "net/tls_client.h"

namespace sb::health::detail {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
inline constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);

asio::ip::address address_of(const CheckSpec& spec);

// Why a socket operation failed, in the words an operator expects.
std::string failure(const boost::system::error_code& ec, bool deadline_expired,
                    std::string_view during);

// A peer's line for a detail or transcript: at most 200 bytes, escaped
// (net/codec/escape.h).
using net::printable;

// "192.0.2.1" / "[2001:db8::1]": an address as it stands in a URI or Host.
std::string uri_host(const asio::ip::address& address);

// Writes all of `bytes`; false (detail set) on failure. `bytes` must outlive
// the call: callers pass a named local.
template <class Stream>
asio::awaitable<bool> write_all(Stream& stream, const std::string& bytes, const bool& expired,
                                ProbeResult& result, std::string_view what) {
  auto [ec, n] = co_await asio::async_write(stream, asio::buffer(bytes), use_nothrow);
  if (ec) result.detail = failure(ec, expired, what);
  co_return !ec;
}

// Sends lines and reads SMTP replies over `Stream` (a tcp::socket or a TLS
// stream over one), recording both in the result's transcript.
template <class Stream>
struct LineSession {
  Stream& stream;
  const bool& deadline_expired;
  ProbeResult& result;
  std::string buffer;  // received but not yet parsed

  // By value: the coroutine frame owns the line (callers pass temporaries,
  // and GCC 12 mishandles temporaries that live across a co_await).
  asio::awaitable<bool> send(std::string line) {
    result.note("C: " + line);
    const std::string wire = line + "\r\n";
    co_return co_await write_all(stream, wire, deadline_expired, result, "send");
  }

  // One SMTP reply; false (detail set) on error, timeout or garbage.
  asio::awaitable<bool> read_reply(net::SmtpReply& reply, std::size_t max_line,
                                   std::string_view what) {
    net::SmtpReplyParser parser(max_line);
    for (;;) {
      std::string_view data = buffer;
      const auto status = parser.feed(data);
      buffer.erase(0, buffer.size() - data.size());
      if (status == net::SmtpReplyParser::Status::done) break;
      if (status == net::SmtpReplyParser::Status::invalid) {
        result.detail = fmt::format("{}: {}", what, parser.error());
        co_return false;
      }
      char chunk[1024];
      auto [ec, n] = co_await stream.async_read_some(asio::buffer(chunk), use_nothrow);
      if (ec) {
        result.detail = failure(ec, deadline_expired, what);
        co_return false;
      }
      buffer.append(chunk, n);
    }
    reply = parser.reply();
    for (const auto& l : reply.lines) result.note("S: " + printable(l));
    co_return true;
  }
};

// Connects `socket` to the check's target and sends the PROXY header the
// pool's servers expect; false (detail set) on failure.
asio::awaitable<bool> open_connection(tcp::socket& socket, const bool& expired, ProbeResult& result,
                                      const CheckSpec& spec);

}  // namespace sb::health::detail

namespace sb::health {

struct KeptConnection::State {
  explicit State(const boost::asio::any_io_executor& executor) : socket(executor) {}
  ~State() { close(); }
  State(const State&) = delete;
  State& operator=(const State&) = delete;

  // Closed with a reset (no TIME_WAIT), the TLS session forgotten; the
  // socket object stays, ready to connect again.
  void close() {
    tls.reset();
    net::close_with_reset(socket);
  }

  boost::asio::ip::tcp::socket socket;
  std::optional<boost::asio::ssl::stream<boost::asio::ip::tcp::socket&>> tls;  // https
  std::chrono::steady_clock::time_point connected_at{};
};

}  // namespace sb::health

namespace sb::health::detail {

// The dialogues, each run on a connected socket within the probe's deadline.
asio::awaitable<void> smtp_dialogue(tcp::socket& socket, const bool& expired, ProbeResult& result,
                                    const CheckSpec& spec);
asio::awaitable<void> sip_tcp_dialogue(tcp::socket& socket, const bool& expired,
                                       ProbeResult& result, const CheckSpec& spec);
// http and https manage their connection themselves: they may keep it.
asio::awaitable<ProbeResult> http_probe(const CheckSpec& spec, KeptConnection& kept);
// SIP over UDP has no connection: a probe of its own.
asio::awaitable<ProbeResult> sip_udp_probe(const CheckSpec& spec);

}  // namespace sb::health::detail
