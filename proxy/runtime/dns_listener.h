#pragma once
// The `protocol: dns` listener (SPEC §3): UDP and TCP on each address,
// authoritative answers from dns::Answerer over the pools' snapshots as each
// worker has them.
// UDP: one loop per worker and address that drains the socket on each wakeup
// in batches (UdpBatch: recvmmsg, sendmmsg) and answers without blocking (a
// full send buffer drops the answer; the client retries).
// TCP: RFC 7766 framing, several queries per connection, closed after
// `idle-timeout` (at most 10s) of silence.

#include <functional>
#include <memory>
#include <string>

#include "proxy/runtime/asio.h"
#include "proxy/runtime/listener.h"
#include "proxy/runtime/worker.h"

namespace sb::runtime {

// Fills `listener.record_pools` and one answerer per worker from its
// dns.records. `pool_named` throws ListenError for an unknown pool.
void attach_answerers(
    ListenerRuntime& listener, std::size_t workers,
    const std::function<std::shared_ptr<PoolRuntime>(const std::string&)>& pool_named);

// On the worker's thread (or before it starts).
void start_dns_udp_loop(Worker& worker, std::shared_ptr<AcceptorSlot> slot);
void start_dns_tcp_session(Worker& worker, std::shared_ptr<ListenerRuntime> listener,
                           tcp::socket socket, const tcp::endpoint& peer);

}  // namespace sb::runtime
