#include "proxy/protocols/tcp/tcp_handler.h"

#include "proxy/protocols/tcp/l4_session.h"

namespace sb::runtime {

FrontPolicy TcpHandler::front_policy() const {
  // The address the client reached is only needed for a PROXY header to the
  // server: spare the syscall otherwise. The first byte is the relay's to
  // watch: a server may speak first.
  return {FirstByte::deadline, pool_->config.proxy_protocol != config::ProxyProtocol::none};
}

awaitable<void> TcpHandler::serve(Worker& worker, AdmittedClient client) {
  co_await serve_l4(worker, std::move(client), *pool_, {nullptr, {}, true});
}

}  // namespace sb::runtime
