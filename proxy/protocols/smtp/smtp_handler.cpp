#include "proxy/protocols/smtp/smtp_handler.h"

#include "proxy/protocols/smtp/smtp_greeting.h"
#include "proxy/protocols/tcp/l4_session.h"

namespace sb::runtime {

FrontPolicy SmtpPassthroughHandler::front_policy() const {
  return {FirstByte::none, pool_->config.proxy_protocol != config::ProxyProtocol::none};
}

awaitable<void> SmtpPassthroughHandler::serve(Worker& worker, AdmittedClient client) {
  SmtpGreeting greeting(banner_timeout_);
  co_await serve_l4(worker, std::move(client), *pool_, {&greeting, kSmtpUnavailable, false});
}

}  // namespace sb::runtime
