#include "proxy/protocols/sip/sip_handler.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "net/codec/sip_message.h"
#include "net/endpoint.h"
#include "net/udp_batch.h"
#include "proxy/front/listener.h"
#include "proxy/protocols/sip/sip_io.h"
#include "proxy/worker/supervised_loop.h"
#include "proxy/worker/worker.h"

namespace sb::sip {
namespace {

// Datagrams handled per wakeup before the loop yields to other work.
constexpr int kBurst = 64;

awaitable<void> udp_loop(runtime::Worker& worker, std::shared_ptr<runtime::AcceptorSlot> slot_ptr) {
  const std::shared_ptr<runtime::AcceptorSlot> slot = std::move(slot_ptr);
  udp::socket& socket = *slot->udp;
  // Room for the largest datagram: one over the size limit is seen whole,
  // counted and dropped, not cut and misread.
  const auto batch = std::make_unique<net::UdpBatch>(65536, 1);
  for (;;) {
    auto [wec] = co_await socket.async_wait(udp::socket::wait_read, use_nothrow);
    if (wec == asio::error::operation_aborted || !socket.is_open()) co_return;
    for (int round = 0; round < kBurst / static_cast<int>(net::UdpBatch::kSize); ++round) {
      const std::size_t n = batch->receive(socket.native_handle());
      if (n == 0) break;
      // The listener now: a reload may hand the address to its successor.
      runtime::ListenerRuntime& l = *slot->listener;
      auto* handler = dynamic_cast<SipHandler*>(l.handler.get());
      if (!handler) co_return;
      const std::shared_ptr<SipWorker> share = handler->on(worker);
      if (!share) co_return;
      SipWorker& w = *share;
      const std::size_t index = w.listening(slot);
      for (std::size_t i = 0; i < n; ++i) {
        const udp::endpoint source = batch->source(i);
        if (!l.front.acl_allows(net::to_ip(source.address()))) continue;
        const auto bytes = batch->datagram(i);
        const Peer from{Peer::Kind::udp_caller, source, nullptr, index};
        w.proxy().receive({reinterpret_cast<const char*>(bytes.data()), bytes.size()}, from);
      }
      w.flush();
      if (n < net::UdpBatch::kSize) break;
    }
  }
}

}  // namespace

SipHandler::SipHandler(const config::ListenerConfig& listener,
                       const runtime::HandlerContext& context)
    : listener_(listener),
      pool_(context.pool_named(listener.pool)),
      stats_(context.stats),
      workers_(context.workers) {
  const config::SipConfig sip = listener.sip.value_or(config::SipConfig{});
  settings_.listener = listener.name;
  settings_.failover_on = sip.failover_on;
  settings_.invite_timeout = sip.invite_timeout;
  settings_.dialog_timeout = sip.dialog_timeout;
  settings_.record_route = sip.record_route;
  udp_ = std::find(sip.transports.begin(), sip.transports.end(), config::SipTransport::udp) !=
         sip.transports.end();
  tcp_ = std::find(sip.transports.begin(), sip.transports.end(), config::SipTransport::tcp) !=
         sip.transports.end();
}

// The workers' shares are owned by each worker's state (Worker::
// listener_state), released on the worker's thread when a configuration
// drops the listener (closing its sockets and timer first) or with the
// worker itself, before its io_context.
SipHandler::~SipHandler() = default;

std::shared_ptr<SipWorker> SipHandler::on(runtime::Worker& worker) {
  std::weak_ptr<SipWorker>& known = workers_.at(worker.id());
  std::shared_ptr<SipWorker> w = known.lock();
  // Made once and gone since: a reload dropped the listener and its share
  // was shut down; this handler serves nothing more on this worker.
  if (!w && !known.owner_before(std::weak_ptr<SipWorker>{}) &&
      !std::weak_ptr<SipWorker>{}.owner_before(known)) {
    // The worker's share outlives this configuration: a reload hands the
    // same transactions and calls to the listener's next handler, which
    // gives it its settings (docs/architecture.md, "SIP calls").
    runtime::Worker::ListenerState& kept =
        worker.listener_state(listener_.name, config::Protocol::sip);
    if (kept.state) {
      w = std::static_pointer_cast<SipWorker>(kept.state);
      w->reconfigure(listener_, pool_, settings_);
    } else {
      w = std::make_shared<SipWorker>(worker, listener_, pool_, settings_, stats_);
      w->start();
      kept.state = w;
      kept.removed = [w = w.get()] { w->shutdown(); };
    }
    known = w;
  }
  return w;
}

void SipHandler::start_datagrams(runtime::Worker& worker,
                                 std::shared_ptr<runtime::AcceptorSlot> slot) {
  auto what = "sip udp loop of listener " + slot->listener->config.name;
  runtime::spawn_supervised(
      worker, std::move(what), [&worker, slot] { return udp_loop(worker, slot); },
      [slot] { return slot->udp && slot->udp->is_open(); });
}

awaitable<void> SipHandler::serve(runtime::Worker& worker, runtime::AdmittedClient client) {
  if (!tcp_) co_return;  // transports: [udp]: the connection closes
  // Held for the connection's life: a reload dropping the listener shuts
  // the share down but cannot free it under this call.
  const std::shared_ptr<SipWorker> share = on(worker);
  if (!share) co_return;
  SipWorker& w = *share;
  const tcp::endpoint remote = client.endpoints.client;
  auto link = std::make_shared<SipLink>(std::move(client.socket), remote, true);
  const Peer from{Peer::Kind::tcp, udp::endpoint(remote.address(), remote.port()), link, 0};
  co_await link->read(
      [&w, &from](std::string_view m) {
        w.proxy().receive(m, from);
        w.flush();
      },
      [&w] { w.proxy().too_large(); }, listener_.idle_timeout);
  link->close();
  w.proxy().origin_closed(link.get());
}

}  // namespace sb::sip
