#pragma once
// One client connection of an http listener, HTTP/1.1 (docs/configuration.md,
// "The http listener"): TLS handshake when the listener terminates TLS, then
// requests in order (pipelined ones wait their turn), each routed, presented
// to a server of its pool (retried on the next one when allowed), its body
// streamed to the server and the response streamed back, with back-pressure
// both ways: every write is awaited before the next read, so a peer that
// reads slowly slows the other one and memory stays one buffer per
// direction.

#include "proxy/asio.h"
#include "proxy/front/admitted_client.h"

namespace sb::runtime {
class Worker;
}

namespace sb::runtime::http {

class HttpHandler;

awaitable<void> serve_h1(Worker& worker, const HttpHandler& handler, AdmittedClient client);

}  // namespace sb::runtime::http
