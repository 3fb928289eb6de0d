#include "proxy/protocols/smtp/smtp_inspect_handler.h"

#include <unistd.h>

#include "proxy/front/listener.h"
#include "proxy/protocols/listener_tls.h"
#include "proxy/protocols/smtp/smtp_inspect_session.h"

namespace sb::runtime::smtp {
namespace {

// Our name when `smtp.hostname` is not set, as Postfix's myhostname.
std::string local_hostname() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) == 0 && name[0] != '\0') return name;
  return "localhost";
}

}  // namespace

SmtpInspectHandler::SmtpInspectHandler(const config::ListenerConfig& listener,
                                       const HandlerContext& context)
    : pool_(context.pool_named(listener.pool)), stats_(context.stats), auth_(context.workers) {
  const config::SmtpConfig smtp = listener.smtp.value_or(config::SmtpConfig{});
  settings_.listener = listener.name;
  settings_.hostname = smtp.hostname.empty() ? local_hostname() : smtp.hostname;
  settings_.max_message_size = smtp.max_message_size;
  settings_.max_recipients = smtp.max_recipients;
  settings_.spool_dir = smtp.spool_dir.empty() ? default_spool_dir() : smtp.spool_dir;
  settings_.xclient = smtp.xclient;
  settings_.banner_timeout =
      std::chrono::duration_cast<std::chrono::milliseconds>(smtp.banner_timeout);
  settings_.idle_timeout =
      std::chrono::duration_cast<std::chrono::milliseconds>(listener.idle_timeout);
  settings_.tls = load_listener_tls(listener);
  if (listener.tls) {
    settings_.handshake_timeout =
        std::chrono::duration_cast<std::chrono::milliseconds>(listener.tls->handshake_timeout);
  }
}

FrontPolicy SmtpInspectHandler::front_policy() const {
  // The server speaks first: no first-byte deadline (idle-timeout applies).
  return {FirstByte::none, pool_->config.proxy_protocol != config::ProxyProtocol::none};
}

awaitable<void> SmtpInspectHandler::serve(Worker& worker, AdmittedClient client) {
  // The session holds the client's listener, and with it this handler.
  SmtpInspectSession session(worker, std::move(client), *pool_, *stats_, settings_,
                             auth_.at(worker.id()));
  co_await session.run();
}

}  // namespace sb::runtime::smtp
