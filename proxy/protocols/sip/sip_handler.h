#pragma once
// `protocol: sip`: unified-messaging call presentation (docs/configuration.md,
// "sip"). A transaction-stateful SIP proxy over UDP (the datagram entry, one
// loop per worker and address, batched) and TCP (the stream entry, a
// caller's connection), with one SipWorker per worker holding that worker's
// sockets, transactions and calls.

#include <memory>
#include <vector>

#include "proxy/protocols/handler_factory.h"
#include "proxy/protocols/protocol_handler.h"
#include "proxy/protocols/sip/sip_proxy.h"

namespace sb::sip {

class SipWorker;

class SipHandler final : public runtime::ProtocolHandler {
 public:
  SipHandler(const config::ListenerConfig& listener, const runtime::HandlerContext& context);
  ~SipHandler() override;

  runtime::FrontPolicy front_policy() const override { return {runtime::FirstByte::none, false}; }
  awaitable<void> serve(runtime::Worker& worker, runtime::AdmittedClient client) override;
  bool datagrams() const override { return udp_; }
  void start_datagrams(runtime::Worker& worker,
                       std::shared_ptr<runtime::AcceptorSlot> slot) override;

  // This worker's share, made on its first use (worker thread); null once
  // a reload has dropped the listener and shut the share down.
  std::shared_ptr<SipWorker> on(runtime::Worker& worker);

 private:
  config::ListenerConfig listener_;
  std::shared_ptr<const runtime::PoolRuntime> pool_;
  std::shared_ptr<runtime::ListenerStats> stats_;
  SipSettings settings_;
  bool udp_ = false;
  bool tcp_ = false;
  // By worker id; each touched by its worker's thread only. Held weakly:
  // the worker's state owns its share, so that the share goes with that
  // worker's io_context (at exit the last reference to this handler may
  // drop on another worker's thread, after this one's io_context is gone).
  std::vector<std::weak_ptr<SipWorker>> workers_;
};

}  // namespace sb::sip
