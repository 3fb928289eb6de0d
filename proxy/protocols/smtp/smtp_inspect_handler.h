#pragma once
// `protocol: smtp`, inspect mode (docs/configuration.md, "smtp"): switchboard
// speaks SMTP to the client itself and relays each transaction to a server,
// telling the client 250 only after a server did; a server that fails before
// that gets the transaction replayed on the next one. One SmtpInspectSession
// per client connection.

#include <memory>
#include <string>
#include <vector>

#include "net/tls_server.h"
#include "proxy/control/pool_registry.h"
#include "proxy/front/listener_stats.h"
#include "proxy/protocols/handler_factory.h"
#include "proxy/protocols/protocol_handler.h"

namespace sb::runtime::smtp {

// What a session needs of its listener's configuration.
struct InspectSettings {
  std::string listener;
  std::string hostname;  // in our greeting, EHLO reply and EHLO to servers
  std::uint64_t max_message_size = 0;
  std::size_t max_recipients = 0;
  std::string spool_dir;
  bool xclient = false;
  std::chrono::milliseconds banner_timeout{0};
  std::chrono::milliseconds idle_timeout{0};  // a client's silence; a server's reply
  // `tls:`: STARTTLS offered, with this context (and client certificates
  // when it asks for them); null: not offered.
  std::shared_ptr<net::ServerTls> tls;
  std::chrono::milliseconds handshake_timeout{0};
};

// What the servers offer with AUTH, as last seen by one worker's sessions
// (each worker's own: no lock).
struct AuthOffer {
  bool known = false;      // a server's EHLO reply was seen
  std::string mechanisms;  // "PLAIN LOGIN"; empty: the servers offer no AUTH
};

class SmtpInspectHandler final : public ProtocolHandler {
 public:
  SmtpInspectHandler(const config::ListenerConfig& listener, const HandlerContext& context);

  FrontPolicy front_policy() const override;
  awaitable<void> serve(Worker& worker, AdmittedClient client) override;

 private:
  std::shared_ptr<const PoolRuntime> pool_;
  std::shared_ptr<ListenerStats> stats_;
  InspectSettings settings_;
  std::vector<AuthOffer> auth_;  // by worker id
};

}  // namespace sb::runtime::smtp
