#include "proxy/protocols/dns/dns_handler.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <optional>
#include <vector>

#include "dns/answer.h"
#include "net/endpoint.h"
#include "net/socket_deadline.h"
#include "net/udp_batch.h"
#include "proxy/front/listener.h"
#include "proxy/worker/supervised_loop.h"
#include "proxy/worker/worker.h"

namespace sb::runtime {
namespace {

// Datagrams answered per wakeup before the loop yields to other work
// (in batches of UdpBatch::kSize).
constexpr int kBurst = 64;
constexpr std::chrono::milliseconds kMaxTcpIdle{10000};
// The longest query taken over TCP (docs/configuration.md, "dns"): a
// question, an OPT record and its options fit in 512 bytes with room to spare.
constexpr std::size_t kMaxTcpQuery = 512;

std::size_t qtype_index(std::uint16_t qtype) {
  switch (qtype) {
    case dns::wire::kTypeA:
      return 0;
    case dns::wire::kTypeAaaa:
      return 1;
    case dns::wire::kTypeMx:
      return 2;
    case dns::wire::kTypeSrv:
      return 3;
    case dns::wire::kTypeAny:
      return 4;
    default:
      return 5;
  }
}

std::size_t rcode_index(dns::wire::Rcode r) {
  return r == dns::wire::Rcode::badvers ? 6 : static_cast<std::size_t>(r);
}

dns::RecordKind kind_of(config::RecordType t) {
  switch (t) {
    case config::RecordType::AAAA:
      return dns::RecordKind::aaaa;
    case config::RecordType::MX:
      return dns::RecordKind::mx;
    case config::RecordType::SRV:
      return dns::RecordKind::srv;
    default:
      return dns::RecordKind::a;
  }
}

awaitable<void> udp_loop(Worker& worker, std::shared_ptr<AcceptorSlot> slot_ptr) {
  const std::shared_ptr<AcceptorSlot> slot = std::move(slot_ptr);
  udp::socket& socket = *slot->udp;
  const auto batch = std::make_unique<net::UdpBatch>(4096, dns::wire::kEdnsUdpLimit);
  for (;;) {
    auto [wec] = co_await socket.async_wait(udp::socket::wait_read, use_nothrow);
    if (wec == asio::error::operation_aborted || !socket.is_open()) co_return;
    for (int round = 0; round < kBurst / static_cast<int>(net::UdpBatch::kSize); ++round) {
      const std::size_t n = batch->receive(socket.native_handle());
      if (n == 0) break;  // drained (or ICMP noise: the next wakeup goes on)
      // The listener now: a reload may hand the address to its successor,
      // a dns listener too (the address key names the protocol).
      ListenerRuntime& l = *slot->listener;
      auto& handler = static_cast<DnsHandler&>(*l.handler);
      for (std::size_t i = 0; i < n; ++i) {
        if (!l.front.acl_allows(net::to_ip(batch->source(i).address()))) continue;
        const std::size_t size =
            handler.answer(worker, batch->datagram(i), batch->reply_buffer(i), false);
        if (size > 0) batch->reply(i, size);
      }
      if (const std::size_t refused = batch->send(socket.native_handle()); refused > 0) {
        l.stats->dns.dropped.fetch_add(refused, std::memory_order_relaxed);
      }
      if (n < net::UdpBatch::kSize) break;  // the socket is empty
    }
  }
}

}  // namespace

DnsHandler::DnsHandler(const config::ListenerConfig& listener, const HandlerContext& context)
    : stats_(context.stats),
      tcp_idle_(std::min<std::chrono::milliseconds>(listener.idle_timeout, kMaxTcpIdle)) {
  const config::DnsConfig& d = *listener.dns;
  std::vector<dns::RecordSpec> records;
  for (const config::DnsRecord& r : d.records) {
    record_pools_.push_back(context.pool_named(r.pool));
    records.push_back({r.name, kind_of(r.type), r.ttl, static_cast<std::uint16_t>(r.preference),
                       record_pools_.size() - 1});
  }
  dns::AnswerOptions options;
  options.rotate = d.rotate;
  options.max_answers = static_cast<std::size_t>(std::max(1, d.max_answers));
  options.all_when_down = d.when_all_down == config::WhenAllDown::all;
  for (std::size_t w = 0; w < context.workers; ++w) {
    answerers_.push_back(std::make_unique<dns::Answerer>(records, options));
  }
  tcp_scratch_.resize(context.workers);
}

DnsHandler::~DnsHandler() = default;

std::size_t DnsHandler::answer(Worker& worker, std::span<const std::uint8_t> query,
                               std::span<std::uint8_t> out, bool tcp) {
  dns::Answerer& answerer = *answerers_[worker.id()];
  const auto r = answerer.answer(query, out, tcp, [&](std::size_t p) {
    balancer::Balancer* b = worker.balancer_for(*record_pools_[p]);
    return b ? &b->snapshot() : nullptr;
  });
  DnsCounters& c = stats_->dns;
  if (r.size == 0) {
    c.dropped.fetch_add(1, std::memory_order_relaxed);
    return 0;
  }
  c.queries[qtype_index(r.qtype)][rcode_index(r.rcode)].fetch_add(1, std::memory_order_relaxed);
  if (r.all_down) c.all_down.fetch_add(1, std::memory_order_relaxed);
  if (r.truncated) c.truncated.fetch_add(1, std::memory_order_relaxed);
  return r.size;
}

std::span<const std::uint8_t> DnsHandler::answer_tcp(Worker& worker,
                                                     std::span<const std::uint8_t> query,
                                                     std::vector<std::uint8_t>& reply) {
  std::vector<std::uint8_t>& scratch = tcp_scratch_[worker.id()];
  if (scratch.empty()) scratch.resize(65535);
  const std::size_t size = answer(worker, query, scratch, true);
  if (size == 0) return {};
  reply.resize(2 + size);
  reply[0] = static_cast<std::uint8_t>(size >> 8);
  reply[1] = static_cast<std::uint8_t>(size);
  std::copy_n(scratch.begin(), size, reply.begin() + 2);
  return reply;
}

awaitable<void> DnsHandler::serve(Worker& worker, AdmittedClient client) {
  tcp::socket& socket = client.socket;
  std::array<std::uint8_t, 2> length{};
  std::array<std::uint8_t, kMaxTcpQuery> in{};
  std::vector<std::uint8_t> reply;  // as large as the largest answer so far
  bool reset = false;
  for (;;) {
    // The next query arrives within idle-timeout, or the connection ends.
    net::SocketDeadline read_deadline(socket, tcp_idle_, net::OnExpiry::cancel_and_shutdown);
    std::size_t size = 0;
    auto [ec, n] = co_await asio::async_read(socket, asio::buffer(length), use_nothrow);
    if (!ec) size = static_cast<std::size_t>(length[0] << 8 | length[1]);
    if (!ec && size <= kMaxTcpQuery) {
      auto [rec, rn] =
          co_await asio::async_read(socket, asio::buffer(in.data(), size), use_nothrow);
      ec = rec;
    }
    co_await read_deadline.disarm();
    if (ec) break;  // closed, reset or idle
    if (size > kMaxTcpQuery) {
      // No resolver sends such a query; reading it whole to answer FORMERR
      // would buffer what the limit is there to refuse.
      stats_->dns.dropped.fetch_add(1, std::memory_order_relaxed);
      break;
    }
    const std::span<const std::uint8_t> bytes = answer_tcp(worker, {in.data(), size}, reply);
    if (bytes.empty()) break;  // not a query: nothing sensible follows on this stream
    // Writing its answer: a client that does not read has idle-timeout to
    // take it, then the connection and its slot are gone.
    net::SocketDeadline write_deadline(socket, tcp_idle_, net::OnExpiry::cancel_and_shutdown);
    auto [wec, wn] = co_await asio::async_write(socket, asio::buffer(bytes), use_nothrow);
    co_await write_deadline.disarm();
    if (write_deadline.expired()) {
      stats_->dns.dropped.fetch_add(1, std::memory_order_relaxed);
      reset = true;
    }
    if (wec) break;
  }
  error_code ignored;
  // A reset frees the answers the client left in the kernel's buffers now,
  // not after the retransmission timeouts of a close.
  if (reset) socket.set_option(tcp::socket::linger(true, 0), ignored);
  socket.shutdown(tcp::socket::shutdown_both, ignored);
}

void DnsHandler::start_datagrams(Worker& worker, std::shared_ptr<AcceptorSlot> slot) {
  // Started again after an exception, as accept loops are: a UDP socket
  // that stays open with no loop reading it drops its share of queries.
  // The loop reads the address's listener per batch (a reload may replace it).
  auto what = "dns udp loop of listener " + slot->listener->config.name;
  spawn_supervised(
      worker, std::move(what), [&worker, slot] { return udp_loop(worker, slot); },
      [slot] { return slot->udp && slot->udp->is_open(); });
}

}  // namespace sb::runtime
