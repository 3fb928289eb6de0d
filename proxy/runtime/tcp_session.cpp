#include "proxy/runtime/tcp_session.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <optional>

#include "proxy/runtime/endpoint.h"
#include "proxy/runtime/logging.h"
#include "proxy/runtime/proxy_header_reader.h"
#include "proxy/runtime/relay.h"
#include "proxy/runtime/smtp_greeting.h"
#include "proxy/runtime/upstream_connector.h"

namespace sb::runtime {
namespace {

std::atomic<std::uint64_t> g_session_exceptions{0};

// The relay of one tcp connection, carrying what the session must keep until
// the end: the listener it came through (its settings and admission), the
// admission slot, the server's active-connection guard and the snapshot it
// came from, and the fields of the access-log line.
class TcpRelay final : public Relay {
 public:
  TcpRelay(Worker& worker, std::shared_ptr<ListenerRuntime> listener, tcp::socket client,
           UpstreamConnection upstream, AdmissionTicket ticket, const AccessRecord& record,
           std::string client_text, std::chrono::steady_clock::time_point started,
           std::size_t already_to_client)
      : Relay(worker, std::move(client), std::move(upstream.socket), listener->config.idle_timeout,
              *upstream.view().stats),
        listener_(std::move(listener)),
        ticket_(std::move(ticket)),
        snapshot_(std::move(upstream.snapshot)),
        active_(std::move(upstream.active)),
        record_(record),
        client_text_(std::move(client_text)),
        started_(started),
        already_to_client_(already_to_client) {
    record_.client = client_text_;
  }

 private:
  void on_finished(const RelayResult& r) override {
    record_.bytes_in += r.from_client;
    record_.bytes_out = already_to_client_ + r.to_client;
    record_.outcome = r.outcome;
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
  std::size_t already_to_client_;  // the SMTP greeting, sent before the relay
};

std::atomic<std::uint64_t> g_next_connection_id{1};

awaitable<void> tcp_session(Worker& worker, std::shared_ptr<ListenerRuntime> listener_ptr,
                            tcp::socket client, tcp::endpoint peer) {
  const auto started = std::chrono::steady_clock::now();
  // Held to the end: a reload never changes these settings under the connection.
  const std::shared_ptr<ListenerRuntime> held = std::move(listener_ptr);
  ListenerRuntime& listener = *held;
  const auto& cfg = listener.config;
  const PoolRuntime& pool = *listener.pool;
  error_code ec;
  ClientEndpoints endpoints{peer, {}};

  // Admission sees the real client: behind an upstream balancer that is the
  // address from its PROXY header (what allow/deny are written for), so it
  // waits for the header; otherwise a refused client is closed at once.
  std::optional<AdmissionTicket> ticket;
  const auto admit = [&] {
    const net::IpBytes source = to_ip_bytes(endpoints.client.address());
    if (listener.admission.acl_allows(source)) ticket = listener.admission.admit(source);
    return ticket.has_value();
  };
  if (!cfg.accept_proxy && !admit()) co_return;

  // The address the client reached is only needed for a PROXY header to the
  // server (or comes from the upstream balancer's): spare the syscall.
  if (pool.config.proxy_protocol != config::ProxyProtocol::none) {
    endpoints.local = client.local_endpoint(ec);
    if (ec) co_return;
  }
  client.set_option(tcp::no_delay(true), ec);

  std::vector<char> early_data;
  if (cfg.accept_proxy) {
    auto header = co_await read_proxy_header(client, cfg.proxy_header_timeout);
    if (!header.ok) {
      listener.stats->count_rejected(RejectReason::proxy_header);
      spdlog::debug("listener {}: {} sent no valid PROXY header: {}", cfg.name,
                    to_string(endpoints.client), header.error);
      co_return;
    }
    if (!header.addresses.local) {
      endpoints.client = tcp::endpoint(to_address(header.addresses.src), header.addresses.src_port);
      endpoints.local = tcp::endpoint(to_address(header.addresses.dst), header.addresses.dst_port);
    }
    early_data = std::move(header.early_data);
  }

  if (cfg.accept_proxy && !admit()) co_return;

  const std::string client_text = to_string(endpoints.client);
  AccessRecord record;
  record.listener = cfg.name;
  record.client = client_text;
  record.pool = cfg.pool;

  // smtp passthrough: a server accepts with its 220 greeting, not with the
  // TCP handshake (the client sees one greeting: the first 220).
  std::optional<SmtpGreeting> greeting;
  if (cfg.protocol == config::Protocol::smtp) {
    greeting.emplace(cfg.smtp ? cfg.smtp->banner_timeout : config::SmtpConfig{}.banner_timeout);
  }
  auto outcome =
      co_await connect_upstream(worker, pool, endpoints, greeting ? &*greeting : nullptr);
  record.retries = outcome.retries;
  if (!outcome.connection) {
    spdlog::warn("listener {}: no server of pool {} accepted {} ({} tried)", cfg.name, cfg.pool,
                 client_text, outcome.tried);
    record.outcome = "exhausted";
    record.duration = std::chrono::steady_clock::now() - started;
    if (greeting) {
      // Nothing is lost: the sender keeps the message and retries later.
      co_await asio::async_write(client, asio::buffer(kSmtpUnavailable), use_nothrow);
      record.bytes_out = kSmtpUnavailable.size();
    }
    write_access_log(record);
    co_return;
  }
  UpstreamConnection& upstream = *outcome.connection;
  const balancer::ServerView& server = upstream.view();
  record.server = server.name;
  record.upstream = server.address;

  std::size_t greeting_bytes = 0;
  if (greeting) {
    auto [gec, n] =
        co_await asio::async_write(client, asio::buffer(greeting->greeting()), use_nothrow);
    if (gec) {
      record.outcome = "client-reset";
      record.duration = std::chrono::steady_clock::now() - started;
      write_access_log(record);
      co_return;
    }
    server.stats->bytes_in.fetch_add(n, std::memory_order_relaxed);
    greeting_bytes = n;
  }

  if (!early_data.empty()) {
    auto [wec, n] =
        co_await asio::async_write(upstream.socket, asio::buffer(early_data), use_nothrow);
    if (wec) {
      record.outcome = "server-reset";
      record.duration = std::chrono::steady_clock::now() - started;
      write_access_log(record);
      co_return;
    }
    server.stats->bytes_out.fetch_add(n, std::memory_order_relaxed);
    record.bytes_in = n;  // the relay adds what follows
  }

  // The dialogue is over: hand both sockets and everything the connection
  // still needs to one relay object, and let this coroutine frame go.
  std::make_shared<TcpRelay>(worker, held, std::move(client), std::move(upstream),
                             std::move(*ticket), record, client_text, started, greeting_bytes)
      ->start();
}

}  // namespace

void start_tcp_session(Worker& worker, std::shared_ptr<ListenerRuntime> listener,
                       tcp::socket socket, const tcp::endpoint& peer) {
  const std::uint64_t id = g_next_connection_id.fetch_add(1, std::memory_order_relaxed);
  auto session = tcp_session(worker, listener, std::move(socket), peer);
  asio::co_spawn(worker.io(), std::move(session),
                 [id, listener = std::move(listener)](std::exception_ptr e) {
                   if (!e) return;
                   g_session_exceptions.fetch_add(1, std::memory_order_relaxed);
                   try {
                     std::rethrow_exception(e);
                   } catch (const std::exception& ex) {
                     spdlog::error("listener {}: connection {} ended by an exception: {}",
                                   listener->config.name, id, ex.what());
                   } catch (...) {
                     spdlog::error("listener {}: connection {} ended by an unknown exception",
                                   listener->config.name, id);
                   }
                 });
}

std::uint64_t session_exceptions() {
  return g_session_exceptions.load();
}

}  // namespace sb::runtime
