#pragma once
// Moving HTTP/1.1 bodies between a client and a server connection with
// back-pressure: each piece is written before the next is read, so a slow
// reader slows the sender and a body of any size (a 2 GiB RPC_IN_DATA, a
// response that trickles for an hour) holds one buffer, never itself. Every
// read and write has the listener's idle-timeout (a Watchdog per side).

#include <array>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <chrono>
#include <cstdint>
#include <span>
#include <string>

#include "net/stream.h"
#include "proxy/asio.h"
#include "proxy/protocols/http/h1_wire.h"
#include "proxy/protocols/http/watchdog.h"

namespace sb::runtime::http {

enum class Relayed { ok, from_failed, to_failed };

// The buffer a connection moves bodies through, its scratch for the last
// chunk, and the deadline of each step.
struct RelaySpace {
  std::span<char> chunk;
  std::string& tail;
  std::chrono::steady_clock::duration idle;
};

// The body of the message `p` has read the head of, from `from` to `to`.
// Chunked out: chunk framing, then the last chunk with the trailers (the
// fields the parser added to the message beside `head`).
//
// `prefix` (a response's head) goes out with the first piece of the body in
// one write when that piece is already in `from_buffer` (it came with the
// head: one send instead of two for most responses), else alone before the
// first read, so that a client sees the head of a slow body at once.
// `prefix_sent` says whether it went out (a failure before it still allows
// an answer of switchboard's own).
template <bool isRequest>
awaitable<Relayed> relay_body(
    boost::beast::http::parser<isRequest, boost::beast::http::buffer_body>& p, net::Stream& from,
    boost::beast::flat_buffer& from_buffer, Watchdog& from_dog, net::Stream& to,
    Watchdog& to_dog, bool chunked_out, const HeadFields& head, RelaySpace space,
    std::uint64_t& bytes, asio::const_buffer prefix = {}, bool* prefix_sent = nullptr) {
  namespace bhttp = boost::beast::http;
  char* const data = space.chunk.data();
  const std::size_t size = space.chunk.size();
  const auto write = [&](const auto& pieces) -> awaitable<bool> {
    to_dog.arm(space.idle);
    auto [e, w] = co_await asio::async_write(to, pieces, use_nothrow);
    to_dog.disarm();
    co_return !e;
  };
  const auto sent_prefix = [&] {
    prefix = {};
    if (prefix_sent) *prefix_sent = true;
  };
  while (!p.is_done()) {
    if (prefix.size() > 0 && from_buffer.size() == 0) {
      if (!co_await write(prefix)) co_return Relayed::to_failed;
      sent_prefix();
    }
    p.get().body().data = data;
    p.get().body().size = size;
    from_dog.arm(space.idle);
    auto [ec, n] = co_await bhttp::async_read(from, from_buffer, p, use_nothrow);
    from_dog.disarm();
    if (ec && ec != bhttp::error::need_buffer) co_return Relayed::from_failed;
    const std::size_t got = size - p.get().body().size;
    if (got == 0) continue;
    bool ok;
    if (chunked_out) {
      char header[20];
      const std::size_t hlen = chunk_header(header, got);
      const std::array<asio::const_buffer, 4> pieces = {
          prefix, asio::buffer(header, hlen), asio::buffer(data, got), asio::buffer("\r\n", 2)};
      ok = co_await write(pieces);
    } else {
      const std::array<asio::const_buffer, 2> pieces = {prefix, asio::buffer(data, got)};
      ok = co_await write(pieces);
    }
    if (!ok) co_return Relayed::to_failed;
    if (prefix.size() > 0) sent_prefix();
    bytes += got;
  }
  if (chunked_out) {
    write_last_chunk(space.tail, p.get(), head);
    const std::array<asio::const_buffer, 2> pieces = {prefix, asio::buffer(space.tail)};
    if (!co_await write(pieces)) co_return Relayed::to_failed;
    if (prefix.size() > 0) sent_prefix();
  } else if (prefix.size() > 0) {
    if (!co_await write(prefix)) co_return Relayed::to_failed;
    sent_prefix();
  }
  co_return Relayed::ok;
}

// One direction of a tunnel (after a 101): bytes as they come until either
// side closes or idles out; then both connections are shut down, which
// ends the other direction too.
awaitable<void> pump(net::Stream& from, Watchdog& from_dog, net::Stream& to, Watchdog& to_dog,
                     std::span<char> buffer, std::chrono::steady_clock::duration idle,
                     std::uint64_t& bytes);

}  // namespace sb::runtime::http
