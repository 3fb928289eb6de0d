// probe(): connect (TCP) within the check's timeout, send the PROXY header
// the pool's servers expect, then run the check type's dialogue. SIP OPTIONS
// over UDP has no connection and is a probe of its own; http and https may
// keep their connection for the next probe and manage it themselves.
#include "health/probe.h"

#include "health/probe_session.h"
#include "net/connect.h"
#include "net/socket_deadline.h"

namespace sb::health {
namespace {

using namespace detail;
using Clock = std::chrono::steady_clock;

asio::awaitable<ProbeResult> tcp_probe(const CheckSpec& spec) {
  ProbeResult result;
  tcp::socket socket(co_await asio::this_coro::executor);
  net::SocketDeadline deadline(socket, spec.timeout, net::OnExpiry::cancel_and_shutdown);
  const bool& expired = deadline.expired_flag();

  if (co_await open_connection(socket, expired, result, spec)) {
    switch (spec.type) {
      case CheckType::smtp:
        co_await smtp_dialogue(socket, expired, result, spec);
        break;
      case CheckType::sip_options:
        co_await sip_tcp_dialogue(socket, expired, result, spec);
        break;
      default:  // tcp: the connect was the check
        result.ok = true;
        result.detail = "connected";
    }
  }
  result.timed_out = expired && !result.ok;
  net::close_with_reset(socket);
  co_await deadline.disarm();
  co_return result;
}

}  // namespace

namespace detail {

asio::awaitable<bool> open_connection(tcp::socket& socket, const bool& expired, ProbeResult& result,
                                      const CheckSpec& spec) {
  const auto ec = co_await net::connect_nonblocking(socket, {address_of(spec), spec.port});
  if (ec) {
    result.detail = failure(ec, expired, "connect");
    result.local_fault = net::is_local_fault(ec);
    co_return false;
  }
  if (spec.proxy_header.empty()) co_return true;
  co_return co_await write_all(socket, spec.proxy_header, expired, result, "PROXY header");
}

}  // namespace detail

void ProbeResult::note(std::string line) {
  if (!transcript.empty() && transcript.back() == kTranscriptCut) return;
  std::size_t bytes = line.size();
  for (const auto& kept : transcript) bytes += kept.size();
  // The last line allowed is the cut mark.
  if (transcript.size() + 1 >= kMaxTranscriptLines || bytes > kMaxTranscriptBytes) {
    transcript.emplace_back(kTranscriptCut);
    return;
  }
  transcript.push_back(std::move(line));
}

KeptConnection::KeptConnection() = default;
KeptConnection::~KeptConnection() = default;
KeptConnection::KeptConnection(KeptConnection&&) noexcept = default;
KeptConnection& KeptConnection::operator=(KeptConnection&&) noexcept = default;

asio::awaitable<ProbeResult> probe(const CheckSpec& spec, KeptConnection& kept) {
  const auto started = Clock::now();
  // Not `cond ? co_await a : co_await b`: GCC 12 miscompiles co_await in a
  // conditional expression (it destroys the wrong temporaries).
  ProbeResult result;
  if (spec.type == CheckType::sip_options && spec.sip_transport == SipTransport::udp) {
    result = co_await sip_udp_probe(spec);
  } else if (spec.type == CheckType::http || spec.type == CheckType::https) {
    result = co_await http_probe(spec, kept);
  } else {
    result = co_await tcp_probe(spec);
  }
  result.latency = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started);
  co_return result;
}

asio::awaitable<ProbeResult> probe(const CheckSpec& spec) {
  KeptConnection none;  // closed when this one-off probe ends
  ProbeResult result = co_await probe(spec, none);
  co_return result;
}

}  // namespace sb::health
