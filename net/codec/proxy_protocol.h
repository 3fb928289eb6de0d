#pragma once
// HAProxy PROXY protocol, versions 1 (text) and 2 (binary), as a pure codec:
// bytes in, addresses out, and back. Used when switchboard sits behind another
// balancer (decode on accept) and when it tells a backend who the client is
// (encode before the first byte to the server).
//
// Spec: https://www.haproxy.org/download/2.6/doc/proxy-protocol.txt
//
// Everything here is std only, allocation-free, exception-free and
// thread-agnostic (no state), so it can run on any worker for every accepted
// connection, and be fuzzed in isolation.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "net/codec/cidr.h"

namespace sb::net {

// What a PROXY header says about the original connection.
struct ProxyAddresses {
  // True for a v2 LOCAL command, a v1 "UNKNOWN" line, or a v2 PROXY command
  // whose family or transport carries no usable address (AF_UNSPEC, AF_UNIX,
  // UNSPEC transport). The receiver then uses the real socket endpoints; the
  // fields below stay default-initialised.
  bool local = false;
  IpAddress src, dst;
  std::uint16_t src_port = 0, dst_port = 0;
  friend bool operator==(const ProxyAddresses&, const ProxyAddresses&) = default;
};

// The longest v1 line, CRLF included (spec section 2.1).
inline constexpr std::size_t kMaxV1 = 107;
// The longest v2 header encode_v2 may ever need: 16-byte fixed part plus the
// largest address block (AF_UNIX, 216 bytes). encode_v2 itself writes at most
// 16 + 36 since it emits no TLVs and no AF_UNIX.
inline constexpr std::size_t kMaxV2 = 16 + 216;
// The largest TLV section (what follows the address block) a received v2
// header may carry. The spec allows up to 64 KiB; senders put an ALPN, an
// authority, a unique id or TLS facts there, well under 1 KiB, so a header
// announcing more is refused from its length field, before it is read.
inline constexpr std::size_t kMaxV2Tlvs = 4096;
// The longest v2 header parse_proxy_header accepts.
inline constexpr std::size_t kMaxV2Received = kMaxV2 + kMaxV2Tlvs;

// Writes a v1 line ("PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n") into
// `out` and returns its length, or 0 (writing nothing) when `out` is too small;
// an `out` of kMaxV1 bytes is always enough.
//   local                           -> "PROXY UNKNOWN\r\n"
//   both IPv4, or v4 + v4-mapped v6 -> TCP4 (the mapped side is unmapped)
//   both IPv6, or v4 + real v6      -> TCP6 (the v4 side is written ::ffff:a.b.c.d)
std::size_t encode_v1(const ProxyAddresses& addresses, std::span<char> out);

// Writes a v2 header into `out` and returns its length, or 0 (writing nothing)
// when `out` is too small; kMaxV2 bytes are always enough.
//   local -> LOCAL command, AF_UNSPEC, no address block (16 bytes)
//   else  -> PROXY command, TCP over IPv4 (28 bytes) or IPv6 (52 bytes),
//            families reconciled exactly as for encode_v1. No TLVs.
std::size_t encode_v2(const ProxyAddresses& addresses, std::span<char> out);

enum class ParseStatus { need_more, done, invalid };

struct ParseResult {
  ParseStatus status = ParseStatus::need_more;
  // The header length when done, 0 otherwise. Bytes after it belong to the
  // client's own stream and must be kept.
  std::size_t consumed = 0;
  // Meaningful only when done.
  ProxyAddresses addresses;
  // When invalid: a static string naming the problem, for a debug log line.
  // Empty otherwise.
  std::string_view error;
};

// Decodes a v1 or v2 header from the start of `data`: everything received so
// far on a fresh connection. Call again with the grown buffer on need_more.
//  - need_more: `data` is a strict prefix of something that could still be a
//    valid header. At most kMaxV1 bytes for v1 and kMaxV2Received for v2
//    are ever asked for, so a reader's buffer and deadline bound the wait.
//  - invalid: `data` can never begin a valid header. Decided from as few bytes
//    as possible: a client that is not speaking PROXY ("GET /", "EHLO", a TLS
//    hello) is rejected on its first byte instead of waiting for a deadline.
//  - done: `consumed` bytes form one header; v2 TLVs are skipped.
ParseResult parse_proxy_header(std::span<const char> data);

}  // namespace sb::net
