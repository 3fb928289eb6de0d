#pragma once
// One client connection of an http listener that speaks HTTP/2
// (docs/configuration.md, "HTTP/2"): chosen by ALPN on TLS, or by the
// client's preface on a cleartext listener. nghttp2 does the framing, HPACK
// and flow control; each stream becomes a request on the same exchange as
// an HTTP/1.1 request (exchange.h), spoken to the servers in HTTP/1.1.
//
// Back-pressure both ways: a request body is taken from the client only as
// fast as it goes to the server (the window is opened as bytes leave), and
// a response body is read from the server only as fast as the client's
// window lets it out, one buffer per stream.
//
// Limits (`http.h2`): concurrent streams, the header list size, resets per
// second (rapid reset), CONTINUATION, SETTINGS and PING floods, and an idle
// connection; each counted in switchboard_http2_limit_hits_total.

#include <string_view>

#include "net/stream.h"
#include "proxy/asio.h"
#include "proxy/front/admitted_client.h"

namespace sb::runtime {
class Worker;
}

namespace sb::runtime::http {

class HttpHandler;
struct ClientInfo;

// Serves `client` on `stream` (TLS already negotiated) until the
// connection ends. `already_read`: bytes of the client's that were read
// before (the preface, on a cleartext listener).
awaitable<void> serve_h2(Worker& worker, const HttpHandler& handler, AdmittedClient& client,
                         net::Stream& stream, const ClientInfo& info,
                         std::string_view already_read);

}  // namespace sb::runtime::http
