#pragma once
// The bytes switchboard itself writes on an HTTP/1.1 connection: request
// heads to servers, response heads to clients (after header_rules.h has
// removed the hop-by-hop headers, so that the framing written here is the
// only one), chunk framing, and its own short answers. Pure.

#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/protocols/http/header_rules.h"

namespace sb::runtime::http {

// How a body travels on one hop.
enum class Framing {
  none,     // no body
  length,   // Content-Length (kept in the fields)
  chunked,  // Transfer-Encoding: chunked
  close,    // until the connection closes (responses only)
};

// "METHOD target HTTP/1.1" and the fields, then the framing header
// (chunked), Connection: upgrade + Upgrade for an upgrade, and the empty line.
void write_request_head(std::string& out, std::string_view method, std::string_view target,
                        const Fields& fields, Framing framing, std::string_view upgrade);

// "HTTP/1.1 status reason", the fields, the framing header (chunked), and
// Connection: close when the connection ends after this response
// (Connection: upgrade + Upgrade for a 101).
void write_response_head(std::string& out, unsigned status, std::string_view reason,
                         const Fields& fields, Framing framing, bool close,
                         std::string_view upgrade);

// "1a2b\r\n" for a chunk of `size` bytes (size > 0).
std::size_t chunk_header(char (&out)[20], std::size_t size);
// The fields of a message's head, by identity (sorted addresses): a parser
// adds the trailers it reads to the same container, next to any head field
// of the same name, so position cannot tell them apart; identity can.
using HeadFields = std::vector<const void*>;
HeadFields head_fields(const Fields& fields);
// The last chunk and the trailer section: "0\r\n" + trailers + "\r\n", the
// trailers being the fields not in `head`.
void write_last_chunk(std::string& out, const Fields& fields, const HeadFields& head);

// One of switchboard's own answers: a short text/plain body naming the
// reason, Connection: close when `close`, Retry-After when `retry_after`
// seconds is given.
std::string own_answer(unsigned status, std::string_view reason_phrase, std::string_view body,
                       bool close, std::optional<int> retry_after = std::nullopt);

// Methods whose requests may be presented to a second server (RFC 9110
// §9.2.2): GET, HEAD, OPTIONS, PUT, DELETE, TRACE.
bool is_idempotent(boost::beast::http::verb method);

}  // namespace sb::runtime::http
