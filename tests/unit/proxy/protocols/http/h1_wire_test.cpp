// The bytes switchboard writes on an HTTP/1.1 connection, each parsed back
// with Beast's parser: what a client or server reads is what was meant.
#include "proxy/protocols/http/h1_wire.h"

#include <gtest/gtest.h>

#include <boost/asio/buffer.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstdint>
#include <string>
#include <vector>

namespace sb::runtime::http {
namespace {

namespace bhttp = boost::beast::http;

// Every CR is followed by LF and every LF follows a CR: no line ends any
// other way, so no reader splits it differently.
bool lines_end_in_crlf(std::string_view s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\r' && (i + 1 == s.size() || s[i + 1] != '\n')) return false;
    if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r')) return false;
  }
  return true;
}

// Parses `bytes` with Beast, in one piece; expects all of them consumed.
template <class Parser>
void parse_all(Parser& p, std::string_view bytes) {
  p.eager(true);
  boost::beast::error_code ec;
  const std::size_t n = p.put(boost::asio::buffer(bytes.data(), bytes.size()), ec);
  ASSERT_FALSE(ec) << ec.message() << " in:\n" << bytes;
  ASSERT_EQ(n, bytes.size()) << bytes;
  ASSERT_TRUE(p.is_header_done()) << bytes;
}

std::vector<std::pair<std::string, std::string>> fields_of(const Fields& f) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& field : f) out.emplace_back(field.name_string(), field.value());
  return out;
}

Fields sample_fields() {
  Fields f;
  f.insert("Host", "mail.example.com");
  f.insert("Authorization", "NTLM TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAKAGFKAAAADw==");
  f.insert("Content-Type", "text/xml; charset=utf-8");
  f.insert("X-Forwarded-For", "192.0.2.1");
  return f;
}

TEST(WriteRequestHead, ParsesBackToTheSameRequest) {
  Fields f = sample_fields();
  f.insert("Content-Length", "42");
  std::string head = "stale";
  write_request_head(head, "POST", "/EWS/Exchange.asmx?x=1", f, Framing::length, "");
  EXPECT_TRUE(head.starts_with("POST /EWS/Exchange.asmx?x=1 HTTP/1.1\r\n")) << head;
  EXPECT_TRUE(head.ends_with("\r\n\r\n"));
  EXPECT_TRUE(lines_end_in_crlf(head)) << head;

  bhttp::request_parser<bhttp::empty_body> p;
  p.skip(true);  // the body is not part of the head
  parse_all(p, head);
  EXPECT_EQ(p.get().method(), bhttp::verb::post);
  EXPECT_EQ(p.get().target(), "/EWS/Exchange.asmx?x=1");
  EXPECT_EQ(p.get().version(), 11u);
  EXPECT_EQ(p.content_length().value_or(0), 42u);
  EXPECT_FALSE(p.chunked());
  EXPECT_EQ(fields_of(p.get()), fields_of(f));
}

TEST(WriteRequestHead, ChunkedAddsTransferEncoding) {
  const Fields f = sample_fields();
  std::string head;
  write_request_head(head, "POST", "/mapi/emsmdb/", f, Framing::chunked, "");
  bhttp::request_parser<bhttp::empty_body> p;
  parse_all(p, head);
  EXPECT_TRUE(p.chunked());
  EXPECT_EQ(p.get()[bhttp::field::transfer_encoding], "chunked");
  EXPECT_FALSE(p.is_done());  // a chunked body follows
}

TEST(WriteRequestHead, NoBodyMeansNoFraming) {
  Fields f;
  f.insert("Host", "h");
  std::string head;
  write_request_head(head, "GET", "/owa/", f, Framing::none, "");
  EXPECT_EQ(head, "GET /owa/ HTTP/1.1\r\nHost: h\r\n\r\n");
  bhttp::request_parser<bhttp::empty_body> p;
  parse_all(p, head);
  EXPECT_TRUE(p.is_done());
  EXPECT_TRUE(p.get().keep_alive());
}

TEST(WriteRequestHead, UpgradeAddsConnectionAndUpgrade) {
  Fields f;
  f.insert("Host", "h");
  f.insert("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==");
  f.insert("Sec-WebSocket-Version", "13");
  std::string head;
  write_request_head(head, "GET", "/chat", f, Framing::none, "websocket");
  bhttp::request_parser<bhttp::empty_body> p;
  parse_all(p, head);
  EXPECT_TRUE(p.upgrade());
  EXPECT_EQ(p.get()[bhttp::field::upgrade], "websocket");
  EXPECT_EQ(p.get()[bhttp::field::connection], "upgrade");
}

TEST(WriteResponseHead, StatusReasonFieldsAndFraming) {
  Fields f;
  f.insert("Content-Type", "text/html");
  f.insert("Content-Length", "5");
  f.insert("Set-Cookie", "a=1");
  f.insert("Set-Cookie", "b=2");
  std::string head;
  write_response_head(head, 200, "OK", f, Framing::length, false, "");
  EXPECT_TRUE(head.starts_with("HTTP/1.1 200 OK\r\n")) << head;
  EXPECT_TRUE(lines_end_in_crlf(head));
  bhttp::response_parser<bhttp::empty_body> p;
  p.skip(true);
  parse_all(p, head);
  EXPECT_EQ(p.get().result_int(), 200u);
  EXPECT_EQ(p.get().reason(), "OK");
  EXPECT_EQ(p.content_length().value_or(0), 5u);
  EXPECT_TRUE(p.get().keep_alive());
  EXPECT_EQ(fields_of(p.get()), fields_of(f));
}

TEST(WriteResponseHead, EmptyReasonGetsTheStandardOne) {
  std::string head;
  write_response_head(head, 404, "", Fields{}, Framing::none, false, "");
  EXPECT_TRUE(head.starts_with("HTTP/1.1 404 Not Found\r\n")) << head;
  bhttp::response_parser<bhttp::empty_body> p;
  parse_all(p, head);
  EXPECT_EQ(p.get().result_int(), 404u);
}

TEST(WriteResponseHead, ChunkedAndClose) {
  std::string head;
  write_response_head(head, 200, "OK", Fields{}, Framing::chunked, true, "");
  bhttp::response_parser<bhttp::empty_body> p;
  parse_all(p, head);
  EXPECT_TRUE(p.chunked());
  EXPECT_FALSE(p.get().keep_alive());
  EXPECT_EQ(p.get()[bhttp::field::connection], "close");
}

TEST(WriteResponseHead, SwitchingProtocols) {
  Fields f;
  f.insert("Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  std::string head;
  // An upgrade answers with Connection: upgrade, never close.
  write_response_head(head, 101, "Switching Protocols", f, Framing::none, true, "websocket");
  bhttp::response_parser<bhttp::empty_body> p;
  parse_all(p, head);
  EXPECT_EQ(p.get().result_int(), 101u);
  EXPECT_TRUE(p.upgrade());
  EXPECT_EQ(p.get()[bhttp::field::upgrade], "websocket");
  EXPECT_EQ(p.get().count(bhttp::field::connection), 1u);
  EXPECT_EQ(p.get()[bhttp::field::connection], "upgrade");
}

TEST(ChunkHeader, HexSizeAndCrlf) {
  char out[20];
  ASSERT_EQ(chunk_header(out, 1), 3u);
  EXPECT_EQ(std::string_view(out, 3), "1\r\n");
  ASSERT_EQ(chunk_header(out, 0x1a2b), 6u);
  EXPECT_EQ(std::string_view(out, 6), "1a2b\r\n");
  ASSERT_EQ(chunk_header(out, SIZE_MAX), 18u);
  EXPECT_EQ(std::string_view(out, 18), "ffffffffffffffff\r\n");
}

TEST(WriteLastChunk, ChunkedBodyWithTrailersParsesBack) {
  Fields head_fields;
  head_fields.insert("Host", "h");
  head_fields.insert("Trailer", "X-Checksum, X-Count");
  head_fields.insert("X-Checksum", "head");
  Fields all = head_fields;
  const HeadFields head = sb::runtime::http::head_fields(all);
  // X-Checksum also in the head: the parser puts its trailer right next to it.
  all.insert("X-Checksum", "abc");
  all.insert("X-Count", "2");

  std::string message;
  write_request_head(message, "POST", "/rpc/rpcproxy.dll", head_fields, Framing::chunked, "");
  char header[20];
  message.append(header, chunk_header(header, 5));
  message += "hello\r\n";
  message.append(header, chunk_header(header, 16));
  message += "0123456789abcdef\r\n";
  std::string tail;
  write_last_chunk(tail, all, head);
  EXPECT_EQ(tail, "0\r\nX-Checksum: abc\r\nX-Count: 2\r\n\r\n");
  message += tail;

  bhttp::request_parser<bhttp::string_body> p;
  parse_all(p, message);
  EXPECT_TRUE(p.is_done());
  EXPECT_EQ(p.get().body(), "hello0123456789abcdef");
  EXPECT_EQ(p.get().count("X-Checksum"), 2u);  // the head's and the trailer
  EXPECT_EQ(p.get()["X-Count"], "2");
}

TEST(WriteLastChunk, NoTrailers) {
  Fields f;
  f.insert("Host", "h");
  std::string tail = "stale";
  write_last_chunk(tail, f, sb::runtime::http::head_fields(f));
  EXPECT_EQ(tail, "0\r\n\r\n");
}

TEST(OwnAnswer, ContentLengthMatchesTheBody) {
  const std::string text = own_answer(502, "Bad Gateway", "switchboard: no server answered", false);
  EXPECT_TRUE(lines_end_in_crlf(text.substr(0, text.find("\r\n\r\n") + 4)));
  bhttp::response_parser<bhttp::string_body> p;
  parse_all(p, text);
  EXPECT_TRUE(p.is_done());
  EXPECT_EQ(p.get().result_int(), 502u);
  EXPECT_EQ(p.get().reason(), "Bad Gateway");
  EXPECT_EQ(p.get().body(), "switchboard: no server answered\n");
  EXPECT_EQ(p.get()[bhttp::field::content_length],
            std::to_string(std::string_view("switchboard: no server answered\n").size()));
  EXPECT_EQ(p.get()[bhttp::field::content_type], "text/plain; charset=utf-8");
  EXPECT_EQ(p.get()[bhttp::field::cache_control], "no-store");
  EXPECT_TRUE(p.get().keep_alive());
  EXPECT_EQ(p.get().count(bhttp::field::retry_after), 0u);
}

TEST(OwnAnswer, CloseAndRetryAfter) {
  const std::string text = own_answer(503, "Service Unavailable", "no server up", true, 5);
  bhttp::response_parser<bhttp::string_body> p;
  parse_all(p, text);
  EXPECT_TRUE(p.is_done());
  EXPECT_EQ(p.get().body(), "no server up\n");
  EXPECT_FALSE(p.get().keep_alive());
  EXPECT_EQ(p.get()[bhttp::field::retry_after], "5");
}

TEST(OwnAnswer, EmptyBodyStillHasItsNewline) {
  const std::string text = own_answer(404, "Not Found", "", false);
  bhttp::response_parser<bhttp::string_body> p;
  parse_all(p, text);
  EXPECT_TRUE(p.is_done());
  EXPECT_EQ(p.get().body(), "\n");
}

TEST(IsIdempotent, TheMethodsOfRfc9110) {
  for (auto v : {bhttp::verb::get, bhttp::verb::head, bhttp::verb::options, bhttp::verb::put,
                 bhttp::verb::delete_, bhttp::verb::trace}) {
    EXPECT_TRUE(is_idempotent(v)) << bhttp::to_string(v);
  }
  for (auto v : {bhttp::verb::post, bhttp::verb::patch, bhttp::verb::connect, bhttp::verb::unknown,
                 bhttp::verb::mkcol}) {
    EXPECT_FALSE(is_idempotent(v)) << bhttp::to_string(v);
  }
}

}  // namespace
}  // namespace sb::runtime::http
