#pragma once
// SIP/2.0 messages (RFC 3261 §7), parsed just enough to route them: the
// start line, the header fields (compact forms known), the top Via with its
// branch, Call-ID, CSeq, Max-Forwards, the To tag, Content-Length and the
// body. Views into the caller's bytes; no copies. Pure.
// The health checks use the status line and the TCP framing only.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

namespace sb::net {

struct SipStatusLine {
  int code = 0;
  std::string_view line;  // "HTTP/1.1 503 Service Unavailable", "SIP/2.0 200 OK"
};

// The status line at the start of `response` ("SIP/2.0 ddd ..."); nullopt
// when it is not one or not complete yet.
std::optional<SipStatusLine> parse_sip_status_line(std::string_view response);

// Length of the first complete SIP message in a TCP byte stream (headers,
// blank line, Content-Length or compact `l:` bytes of body); nullopt while
// incomplete. A message without Content-Length has no body (RFC 3261 §18.3
// requires it on TCP).
std::optional<std::size_t> sip_message_length(std::string_view stream);

// The header fields a proxy acts on; the rest pass through as `other`.
enum class SipHeader : std::uint8_t {
  other,
  via,
  call_id,
  cseq,
  from,
  to,
  max_forwards,
  content_length,
  route,
  record_route,
  contact,
};

struct SipField {
  SipHeader kind = SipHeader::other;
  std::string_view name;   // as written ("Via", "v")
  std::string_view value;  // trimmed, folded lines included as sent
  std::string_view line;   // the whole field through its CRLF
};

enum class SipParseError : std::uint8_t {
  none,
  start_line,      // not "METHOD URI SIP/2.0" nor "SIP/2.0 ddd reason"
  header,          // a line without a colon, or too many fields
  missing,         // no Via, Call-ID, CSeq, From or To
  cseq,            // CSeq is not "number METHOD", or its method differs
  content_length,  // not a number, or more bytes than the message holds
  max_forwards,    // not a number
};

struct SipMessage {
  bool request = false;
  std::string_view method;  // requests
  std::string_view uri;     // requests
  int status = 0;           // responses
  std::string_view start_line;
  std::vector<SipField> fields;  // in order; reused across parses
  std::string_view body;         // Content-Length bytes (UDP: the rest without one)
  std::size_t size = 0;          // start line through body

  std::string_view call_id;
  std::uint32_t cseq = 0;
  std::string_view cseq_method;
  int max_forwards = -1;          // -1: absent
  std::string_view top_via;       // the first Via value (one element of a list)
  std::size_t top_via_field = 0;  // index in `fields` of the field holding it
  std::string_view branch;        // the top Via's branch parameter
  std::string_view from_tag;
  std::string_view to_tag;  // empty: not within a dialog
};

// The largest message taken (docs/configuration.md, "sip"): a bigger one is
// refused, over UDP and TCP alike.
inline constexpr std::size_t kMaxSipMessage = 64 * 1024;
// Fields beyond this many make the message malformed (a flood of tiny
// fields costs the parser, not the sender).
inline constexpr std::size_t kMaxSipFields = 128;
// A proxy adds fields (its Via, Record-Route, Max-Forwards): a message it
// forwards has at most this many, so that what it sends stays within
// kMaxSipFields for the next hop.
inline constexpr std::size_t kMaxSipFieldsToForward = kMaxSipFields - 8;

// Parses one whole message: a datagram, or a TCP message framed by
// sip_message_length. `out` is overwritten (its field vector keeps its
// capacity). A UDP message without Content-Length takes the rest of the
// datagram as its body; a longer datagram than Content-Length says is cut.
SipParseError parse_sip_message(std::string_view bytes, SipMessage& out);

// A header parameter's value in `value` (";branch=z9hG4bK..." -> branch);
// nullopt when absent, empty for a parameter without a value ("lr").
std::optional<std::string_view> sip_param(std::string_view value, std::string_view name);

// Splits the first element off a comma-separated header value, minding quoted
// strings and <...> URIs: {first, rest after the comma} (rest empty when none).
std::pair<std::string_view, std::string_view> sip_first_element(std::string_view value);

// The host and port of a SIP URI ("sip:user@host:port;params", "<sip:h>",
// "sip:[::1]:5060"); the port is 0 when absent. nullopt when not a sip: URI.
struct SipHostPort {
  std::string_view host;  // without brackets
  std::uint16_t port = 0;
  bool has_user = false;
};
std::optional<SipHostPort> sip_uri_host_port(std::string_view uri);

bool sip_iequals(std::string_view a, std::string_view b);

}  // namespace sb::net
