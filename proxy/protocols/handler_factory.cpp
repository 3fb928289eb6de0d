#include "proxy/protocols/handler_factory.h"

#include <stdexcept>

#include "proxy/protocols/dns/dns_handler.h"
#include "proxy/protocols/http/http_handler.h"
#include "proxy/protocols/sip/sip_handler.h"
#include "proxy/protocols/smtp/smtp_handler.h"
#include "proxy/protocols/smtp/smtp_inspect_handler.h"
#include "proxy/protocols/tcp/tcp_handler.h"

namespace sb::runtime {

std::unique_ptr<ProtocolHandler> make_handler(const config::ListenerConfig& listener,
                                              const HandlerContext& context) {
  switch (listener.protocol) {
    case config::Protocol::tcp:
      return std::make_unique<TcpHandler>(context.pool_named(listener.pool));
    case config::Protocol::smtp: {
      const config::SmtpConfig smtp = listener.smtp.value_or(config::SmtpConfig{});
      if (smtp.mode == config::SmtpMode::inspect) {
        return std::make_unique<smtp::SmtpInspectHandler>(listener, context);
      }
      return std::make_unique<SmtpPassthroughHandler>(context.pool_named(listener.pool),
                                                      smtp.banner_timeout);
    }
    case config::Protocol::dns:
      return std::make_unique<DnsHandler>(listener, context);
    case config::Protocol::http:
      return std::make_unique<http::HttpHandler>(listener, context);
    case config::Protocol::sip:
      return std::make_unique<sip::SipHandler>(listener, context);
  }
  throw std::invalid_argument(std::string("protocol ") +
                              std::string(config::to_string(listener.protocol)) +
                              " is not supported by this version");
}

}  // namespace sb::runtime
