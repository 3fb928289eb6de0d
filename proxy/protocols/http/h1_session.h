#pragma once
// One client connection of an http listener, HTTP/1.1 (docs/configuration.md,
// "The http listener"): requests in order (pipelined ones wait their turn), each routed, presented
// to a server of its pool (retried on the next one when allowed), its body
// streamed to the server and the response streamed back, with back-pressure
// both ways: every write is awaited before the next read, so a peer that
// reads slowly slows the other one and memory stays one buffer per
// direction.

#include <optional>
#include <string>
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

// Serves `client` on `stream` (TLS already negotiated) until the connection
// ends. Returns the bytes read when the client turned out to speak HTTP/2
// with prior knowledge (a cleartext listener): its preface and what
// followed, for the HTTP/2 session to go on with; else nothing.
awaitable<std::optional<std::string>> serve_h1(Worker& worker, const HttpHandler& handler,
                                               AdmittedClient& client, net::Stream& stream,
                                               const ClientInfo& info);

}  // namespace sb::runtime::http
