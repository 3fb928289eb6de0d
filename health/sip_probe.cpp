// The sip-options check: an OPTIONS request (RFC 3261 §11) over UDP or TCP;
// provisional (1xx) answers are skipped, any final answer below 500 passes
// (a 404 or 405 still proves a live SIP stack; 5xx means it will not serve).
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <random>

#include "health/probe_session.h"
#include "net/codec/sip_message.h"
#include "net/socket_deadline.h"

namespace sb::health::detail {
namespace {

using udp = asio::ip::udp;
constexpr std::size_t kMaxSipMessage = 64 * 1024;
// RFC 3261 timer T1: UDP requests are resent after T1, 2xT1, 4xT1, ...
constexpr std::chrono::milliseconds kT1{500};

std::string token() {
  static thread_local std::mt19937_64 random{std::random_device{}()};
  return fmt::format("{:016x}", random());
}

std::string endpoint_text(const asio::ip::address& a, std::uint16_t port) {
  return fmt::format("{}:{}", uri_host(a), port);
}

std::string options_request(const CheckSpec& spec, const asio::ip::address& local_ip,
                            std::uint16_t local_port, std::string_view transport) {
  const std::string target = endpoint_text(address_of(spec), spec.port);
  const std::string local = endpoint_text(local_ip, local_port);
  return fmt::format(
      "OPTIONS sip:{0} SIP/2.0\r\n"
      "Via: SIP/2.0/{1} {2};branch=z9hG4bK{3};rport\r\n"
      "Max-Forwards: 70\r\n"
      "From: <sip:switchboard@{2}>;tag={4}\r\n"
      "To: <sip:{0}>\r\n"
      "Call-ID: {5}@switchboard\r\n"
      "CSeq: 1 OPTIONS\r\n"
      "Contact: <sip:switchboard@{2};transport={6}>\r\n"
      "Accept: application/sdp\r\n"
      "User-Agent: switchboard-health\r\n"
      "Content-Length: 0\r\n\r\n",
      target, transport, local, token(), token(), token(), transport == "UDP" ? "udp" : "tcp");
}

enum class Answer { provisional, final, garbage };

// One received SIP message: provisional answers are noted and skipped.
Answer judge(std::string_view message, ProbeResult& result) {
  const auto status = net::parse_sip_status_line(message);
  if (!status) {
    result.detail = "not a SIP response";
    result.note("S: " + printable(message.substr(0, message.find('\n'))));
    return Answer::garbage;
  }
  result.note("S: " + printable(status->line));
  if (status->code < 200) return Answer::provisional;
  result.ok = status->code < 500;
  result.detail = printable(status->line);
  return Answer::final;
}

}  // namespace

asio::awaitable<void> sip_tcp_dialogue(tcp::socket& socket, const bool& expired,
                                       ProbeResult& result, const CheckSpec& spec) {
  boost::system::error_code ignored;  // a peer already gone fails at the send
  const auto local = socket.local_endpoint(ignored);
  const std::string request = options_request(spec, local.address(), local.port(), "TCP");
  result.note(
      fmt::format("C: OPTIONS sip:{} SIP/2.0 (TCP)", endpoint_text(address_of(spec), spec.port)));
  if (!co_await write_all(socket, request, expired, result, "send")) co_return;
  std::string stream;
  char chunk[4096];
  for (;;) {
    while (const auto length = net::sip_message_length(stream)) {
      if (judge(std::string_view(stream).substr(0, *length), result) != Answer::provisional) {
        co_return;
      }
      stream.erase(0, *length);
    }
    if (stream.size() > kMaxSipMessage) {
      result.detail = "SIP response too long";
      co_return;
    }
    auto [ec, n] = co_await socket.async_read_some(asio::buffer(chunk), use_nothrow);
    if (ec) {
      result.detail = failure(ec, expired, "SIP response");
      co_return;
    }
    stream.append(chunk, n);
  }
}

asio::awaitable<ProbeResult> sip_udp_probe(const CheckSpec& spec) {
  using namespace asio::experimental::awaitable_operators;
  ProbeResult result;
  const auto executor = co_await asio::this_coro::executor;
  const udp::endpoint target(address_of(spec), spec.port);
  udp::socket socket(executor);
  net::BasicSocketDeadline<udp::socket> deadline(socket, spec.timeout);
  asio::steady_timer resend(executor);
  boost::system::error_code ec;
  // connect(): the kernel then delivers only the server's datagrams, and an
  // ICMP port unreachable shows as "connection refused".
  socket.open(target.protocol(), ec);
  if (!ec) socket.connect(target, ec);
  if (ec) {
    result.detail = failure(ec, false, "connect");
    result.local_fault = net::is_local_fault(ec);
  } else {
    const auto local = socket.local_endpoint(ec);
    const std::string request = options_request(spec, local.address(), local.port(), "UDP");
    result.note(fmt::format("C: OPTIONS sip:{} SIP/2.0 (UDP)",
                            endpoint_text(target.address(), target.port())));
    std::vector<char> datagram(kMaxSipMessage);
    auto wait = kT1;
    bool send = true;
    for (;;) {
      if (send) {
        auto [sec, n] = co_await socket.async_send(asio::buffer(request), use_nothrow);
        if (sec) {
          result.detail = failure(sec, deadline.expired(), "send");
          result.local_fault = net::is_local_fault(sec);
          break;
        }
        resend.expires_after(wait);
        wait *= 2;
      }
      auto outcome = co_await (socket.async_receive(asio::buffer(datagram), use_nothrow) ||
                               resend.async_wait(use_nothrow));
      if (outcome.index() == 1) {  // no answer yet: send again (RFC 3261 §17.1.2.2)
        send = true;
        continue;
      }
      auto [rec, n] = std::get<0>(outcome);
      if (rec) {
        result.detail = failure(rec, deadline.expired(), "SIP response");
        break;
      }
      // A provisional answer stops the resends; the final one is awaited.
      if (judge(std::string_view(datagram.data(), n), result) != Answer::provisional) break;
      send = false;
      resend.expires_after(spec.timeout);
    }
  }
  result.timed_out = deadline.expired() && !result.ok;
  socket.close(ec);
  co_await deadline.disarm();
  co_return result;
}

}  // namespace sb::health::detail
