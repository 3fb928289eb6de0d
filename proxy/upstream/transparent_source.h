#pragma once
// `source: client` (docs/configuration.md): connect to a server from the client's own
// address, for servers that accept neither PROXY nor XCLIENT and select by
// remote IP (Exchange receive connectors). The socket is opened with
// IP_TRANSPARENT (IPV6_TRANSPARENT) so that it may bind an address this host
// does not own; the servers' replies must be routed back through this host
// and delivered locally (docs/transparent-source.md).

#include "proxy/asio.h"

namespace sb::runtime {

// Opens `socket` for `target`'s family, marks it transparent and binds it to
// `client`'s address (any port). The socket is then connected as usual.
error_code open_transparent(tcp::socket& socket, const tcp::endpoint& target,
                            const tcp::endpoint& client);

// Whether this process may open transparent sockets (CAP_NET_ADMIN); the
// reason when not, for the start-up error.
std::optional<std::string> transparent_unavailable();

}  // namespace sb::runtime
