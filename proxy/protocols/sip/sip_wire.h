#pragma once
// The bytes the sip listener writes (docs/configuration.md, "sip"): a request
// forwarded with the proxy's Via (and Record-Route), a response forwarded
// without it, the proxy's own responses, and the ACK, CANCEL and BYE it sends
// to a server on its own. Pure: parsed messages in, text out, into a string
// the caller reuses.

#include <cstdint>
#include <string>
#include <string_view>

#include "net/codec/sip_message.h"

namespace sb::sip {

// What the proxy puts in its Via: "SIP/2.0/<transport> <sent_by>;branch=<branch>".
struct ViaSpec {
  std::string_view transport;  // "UDP" | "TCP"
  std::string_view sent_by;    // "127.0.0.1:5060", "[::1]:5060"
  std::string_view branch;     // z9hG4bK...
};

struct ForwardOptions {
  ViaSpec via;
  // Our Record-Route value ("<sip:127.0.0.1:5060;lr>"); empty: none added.
  std::string_view record_route;
  // Route header values naming this proxy, removed before forwarding (loose
  // routing, RFC 3261 §16.4): the leading Route elements for which this
  // returns true.
  bool (*is_own_route)(std::string_view uri, const void* ctx) = nullptr;
  const void* route_ctx = nullptr;
};

// `m` forwarded: our Via on top, Max-Forwards decremented (70 when absent),
// our Record-Route above the others, own leading Route elements removed,
// Content-Length set to the body's size.
void write_forwarded_request(const net::SipMessage& m, const ForwardOptions& options,
                             std::string& out);

// A response forwarded upstream: its top Via (ours) removed, and in its
// Record-Route values `rr_from` replaced by `rr_to` (the proxy record-routes
// with the address the server reaches it on; the caller gets the one it
// reaches it on). Content-Length set to the body's size.
void write_forwarded_response(const net::SipMessage& m, std::string_view rr_from,
                              std::string_view rr_to, std::string& out);

// The proxy's own response to request `m`: its Via fields, From, To (with
// `to_tag` added when the request's To has none and status > 100), Call-ID
// and CSeq; `extra` is more header lines, each ending in CRLF.
void write_response(const net::SipMessage& m, int status, std::string_view reason,
                    std::string_view to_tag, std::string_view extra, std::string& out);

// The ACK of a non-2xx final `response` to the INVITE `forwarded` that the
// proxy sent (RFC 3261 §17.1.1.3): same branch, the response's To.
void write_ack(const net::SipMessage& forwarded, const net::SipMessage& response, std::string& out);

// The CANCEL of the INVITE `forwarded` that the proxy sent (RFC 3261 §9.1).
void write_cancel(const net::SipMessage& forwarded, std::string& out);

// An ACK and then a BYE to a server whose 2xx `response` to the abandoned
// INVITE `forwarded` arrived after the call went elsewhere (a late answer
// must not leave a call up on that server). Sent with Via `via` (a fresh
// branch for the BYE; the 2xx ACK is its own transaction as well).
void write_ack_2xx(const net::SipMessage& forwarded, const net::SipMessage& response,
                   const ViaSpec& via, std::string& out);
void write_bye(const net::SipMessage& forwarded, const net::SipMessage& response,
               const ViaSpec& via, std::string& out);

// Reason phrases of the responses the proxy writes itself.
std::string_view reason_phrase(int status);

}  // namespace sb::sip
