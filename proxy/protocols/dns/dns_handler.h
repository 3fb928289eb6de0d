#pragma once
// `protocol: dns`: authoritative answers for the names in dns.records, built
// by dns::Answerer from the pools' snapshots as each worker has them, over
// UDP and TCP on each address.
// UDP (the datagram entry): one loop per worker and address that drains the
// socket on each wakeup in batches (net::UdpBatch: recvmmsg, sendmmsg) and
// answers without blocking (a full send buffer drops the answer; the client
// retries).
// TCP (the stream entry): RFC 7766 framing, several queries per connection,
// closed after `idle-timeout` (at most 10s) of silence.

#include <memory>
#include <vector>

#include "proxy/protocols/handler_factory.h"
#include "proxy/protocols/protocol_handler.h"

namespace sb::dns {
class Answerer;
}

namespace sb::runtime {

class DnsHandler final : public ProtocolHandler {
 public:
  // The pools of the listener's dns.records, one answerer per worker.
  DnsHandler(const config::ListenerConfig& listener, const HandlerContext& context);
  ~DnsHandler() override;

  FrontPolicy front_policy() const override { return {FirstByte::none, false}; }
  awaitable<void> serve(Worker& worker, AdmittedClient client) override;
  bool datagrams() const override { return true; }
  void start_datagrams(Worker& worker, std::shared_ptr<AcceptorSlot> slot) override;

  // Answers one query on `worker`'s thread into `out`; the response's size,
  // 0 for none (not a query). Counted in the listener's dns counters.
  std::size_t answer(Worker& worker, std::span<const std::uint8_t> query,
                     std::span<std::uint8_t> out, bool tcp);

 private:
  std::vector<std::shared_ptr<const PoolRuntime>> record_pools_;
  // By worker id; each used by its worker's thread only (its rotation).
  std::vector<std::unique_ptr<dns::Answerer>> answerers_;
  std::shared_ptr<ListenerStats> stats_;
  std::chrono::milliseconds tcp_idle_;
};

}  // namespace sb::runtime
