#include "proxy/protocols/tcp/l4_session.h"

#include <spdlog/spdlog.h>

#include "net/endpoint.h"
#include "net/write_within.h"
#include "proxy/front/listener.h"
#include "proxy/logging.h"
#include "proxy/protocols/tcp/relay.h"
#include "proxy/upstream/attempt.h"

namespace sb::runtime {
namespace {

// The relay of one connection, carrying what the connection must keep until
// the end: the listener it came through, the admission slot, the server's
// active-connection guard and the snapshot it came from, and the fields of
// the access-log line.
class L4Relay final : public Relay {
 public:
  L4Relay(Worker& worker, AdmittedClient client, UpstreamStream upstream,
          const AccessRecord& record, std::string client_text, std::size_t already_to_client)
      : Relay(worker, std::move(client.socket), std::move(upstream.socket),
              client.listener->config.idle_timeout, *upstream.view().stats),
        listener_(std::move(client.listener)),
        ticket_(std::move(client.ticket)),
        snapshot_(std::move(upstream.snapshot)),
        active_(std::move(upstream.active)),
        record_(record),
        client_text_(std::move(client_text)),
        started_(client.accepted),
        already_to_client_(already_to_client) {
    record_.client = client_text_;
  }

 private:
  using Clock = std::chrono::steady_clock;

  void on_finished(const RelayResult& r) override {
    record_.bytes_in += r.from_client;
    record_.bytes_out = already_to_client_ + r.to_client;
    record_.outcome = r.outcome;
    if (record_.first_byte.count() == 0 && r.first_from_server != Clock::time_point{}) {
      record_.first_byte = r.first_from_server - started_;
    }
    record_.duration = std::chrono::steady_clock::now() - started_;
    write_access_log(record_);
  }

  std::shared_ptr<ListenerRuntime> listener_;  // outlives ticket_ (declared first)
  AdmissionTicket ticket_;
  std::shared_ptr<const balancer::PoolSnapshot> snapshot_;  // keeps record_.server valid
  balancer::ActiveConnection active_;
  AccessRecord record_;
  std::string client_text_;
  std::chrono::steady_clock::time_point started_;
  std::size_t already_to_client_;  // what the acceptance step passed on (SMTP greeting)
};

}  // namespace

awaitable<void> serve_l4(Worker& worker, AdmittedClient client, const PoolRuntime& pool,
                         L4Options options) {
  const auto& cfg = client.listener->config;
  // What this session writes itself (a 421, the greeting, early data) waits
  // at most idle-timeout for a peer that does not read, as the relay does.
  const auto idle = cfg.idle_timeout;
  const std::string client_text = net::to_string(client.endpoints.client);
  AccessRecord record;
  record.connection = client.id;
  record.listener = cfg.name;
  record.frontend = client.listener->frontend;  // the relay holds the listener
  record.client = client_text;
  record.pool = pool.config.name;
  const auto log_end = [&](std::string_view outcome) {
    record.outcome = outcome;
    record.duration = std::chrono::steady_clock::now() - client.accepted;
    write_access_log(record);
  };

  UpstreamAttempt attempt(worker, pool, client.endpoints);
  auto upstream = co_await attempt.next(options.accept);
  record.retries = attempt.retries();
  record.tried = attempt.tried();
  if (!upstream) {
    spdlog::warn("listener {}: no server of pool {} accepted {} ({} tried)", cfg.name,
                 pool.config.name, client_text, attempt.tried());
    if (!options.when_exhausted.empty()) {
      // Nothing is lost: the sender keeps what it has and retries later.
      auto [wec, n] =
          co_await net::write_within(client.socket, asio::buffer(options.when_exhausted), idle);
      record.bytes_out = n;
    }
    log_end("exhausted");
    co_return;
  }
  const balancer::ServerView& server = upstream->view();
  record.server = server.name;
  record.upstream = server.address;
  record.connect = std::chrono::steady_clock::now() - client.accepted;

  std::size_t owed_bytes = 0;
  if (options.accept && !options.accept->owed_to_client().empty()) {
    const std::string_view owed = options.accept->owed_to_client();
    auto [gec, n] = co_await net::write_within(client.socket, asio::buffer(owed), idle);
    if (gec) {
      log_end(gec == asio::error::timed_out ? "idle-timeout" : "client-reset");
      co_return;
    }
    server.stats->bytes_in.fetch_add(n, std::memory_order_relaxed);
    owed_bytes = n;
    // The server's first bytes (an SMTP greeting) came while it was tried.
    record.first_byte = record.connect;
  }

  if (!client.early_data.empty()) {
    auto [wec, n] =
        co_await net::write_within(upstream->socket, asio::buffer(client.early_data), idle);
    if (wec) {
      log_end(wec == asio::error::timed_out ? "idle-timeout" : "server-reset");
      co_return;
    }
    server.stats->bytes_out.fetch_add(n, std::memory_order_relaxed);
    record.bytes_in = n;  // the relay adds what follows
  }

  // The dialogue is over: hand both sockets and everything the connection
  // still needs to one relay object, and let this coroutine frame go.
  const bool first_byte = options.first_byte_deadline && client.early_data.empty();
  const auto deadline = client.first_byte_deadline;
  auto relay = std::make_shared<L4Relay>(worker, std::move(client), std::move(*upstream), record,
                                         client_text, owed_bytes);
  if (first_byte) relay->set_first_byte_deadline(deadline);
  relay->start();
}

}  // namespace sb::runtime
