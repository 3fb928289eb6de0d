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
#include "proxy/worker/worker.h"

namespace sb::runtime {
namespace {

// Datagrams answered per wakeup before the loop yields to other work
// (in batches of UdpBatch::kSize).
constexpr int kBurst = 64;
constexpr std::chrono::milliseconds kMaxTcpIdle{10000};

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

awaitable<void> DnsHandler::serve(Worker& worker, AdmittedClient client) {
  tcp::socket& socket = client.socket;
  std::array<std::uint8_t, 2> length{};
  std::vector<std::uint8_t> in;
  std::vector<std::uint8_t> out(2 + 65535);
  for (;;) {
    net::SocketDeadline deadline(socket, tcp_idle_);
    auto [ec, n] = co_await asio::async_read(socket, asio::buffer(length), use_nothrow);
    if (!ec) {
      in.resize(static_cast<std::size_t>(length[0] << 8 | length[1]));
      auto [rec, rn] = co_await asio::async_read(socket, asio::buffer(in), use_nothrow);
      ec = rec;
    }
    co_await deadline.disarm();
    if (ec) break;  // closed, reset or idle
    const std::size_t size = answer(worker, in, {out.data() + 2, out.size() - 2}, true);
    if (size == 0) break;  // not a query: nothing sensible follows on this stream
    out[0] = static_cast<std::uint8_t>(size >> 8);
    out[1] = static_cast<std::uint8_t>(size);
    auto [wec, wn] =
        co_await asio::async_write(socket, asio::buffer(out.data(), 2 + size), use_nothrow);
    if (wec) break;
  }
  error_code ignored;
  socket.shutdown(tcp::socket::shutdown_both, ignored);
}

void DnsHandler::start_datagrams(Worker& worker, std::shared_ptr<AcceptorSlot> slot) {
  // Started again after an exception, as accept loops are: a UDP socket
  // that stays open with no loop reading it drops its share of queries.
  auto loop = udp_loop(worker, slot);
  asio::co_spawn(worker.io(), std::move(loop),
                 [&worker, slot = std::move(slot)](std::exception_ptr e) mutable {
                   if (!e) return;
                   const auto what = "dns udp loop of listener " + slot->listener->config.name;
                   if (worker.survive(what, e) && slot->udp && slot->udp->is_open()) {
                     // The address's listener now (a reload may have replaced it).
                     const auto listener = slot->listener;
                     listener->handler->start_datagrams(worker, std::move(slot));
                   }
                 });
}

}  // namespace sb::runtime
