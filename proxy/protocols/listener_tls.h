#pragma once
// The server TLS of a listener with `tls:` (docs/configuration.md, "tls"):
// the http listener's TLS and the smtp inspect listener's STARTTLS load it
// the same way, from the same keys.

#include <memory>

#include "net/tls_server.h"
#include "proxy/config/config.h"

namespace sb::runtime {

// nullptr when the listener has no `tls:`; throws ListenError naming the
// listener and the file when a certificate, key or CA cannot be used.
std::shared_ptr<net::ServerTls> load_listener_tls(const config::ListenerConfig& listener);

}  // namespace sb::runtime
