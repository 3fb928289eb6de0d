#pragma once
// `protocol: dns`: authoritative answers for the names in dns.records, built
// by dns::Answerer from the pools' snapshots as each worker has them, over
// UDP and TCP on each address.
// UDP (the datagram entry): one loop per worker and address that drains the
// socket on each wakeup in batches (net::UdpBatch: recvmmsg, sendmmsg) and
// answers without blocking (a full send buffer drops the answer; the client
// retries).
// TCP (the stream entry): RFC 7766 framing, several queries per connection,
// queries of at most 512 bytes (a longer one closes the connection); closed
// after `idle-timeout` (at most 10s) of silence, or when an answer is not
// taken within that time (docs/configuration.md, "dns").

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
  // Answers one TCP query into `reply`, resized to the 2-byte length and the
  // response; the bytes to send, empty for none.
  std::span<const std::uint8_t> answer_tcp(Worker& worker, std::span<const std::uint8_t> query,
                                           std::vector<std::uint8_t>& reply);

 private:
  std::vector<std::shared_ptr<const PoolRuntime>> record_pools_;
  // By worker id; each used by its worker's thread only (its rotation).
  std::vector<std::unique_ptr<dns::Answerer>> answerers_;
  // By worker id: where a TCP answer is written (64 KiB, at first use)
  // before it is copied, at its size, into the connection's reply.
  std::vector<std::vector<std::uint8_t>> tcp_scratch_;
  std::shared_ptr<ListenerStats> stats_;
  std::chrono::milliseconds tcp_idle_;
};

}  // namespace sb::runtime
