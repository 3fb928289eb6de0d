#pragma once
// One request, whichever codec brought it (HTTP/1.1: h1_session.cpp; an
// HTTP/2 stream: h2_session.cpp), on its way to a server and back to the
// head of the response. Everything behind the codec is written once here:
// affinity (docs/configuration.md, `affinity`), the head the server gets
// (hop-by-hop headers removed, forwarded headers), the pool's attempt with
// keep-alive reuse and TLS to servers, `retry-on`, and switchboard's own
// answers (502, 503, 504). The codec supplies what differs through
// ClientSide: how the body arrives, how 100 Continue, interim responses and
// own answers reach the client. The response's head and body are the
// codec's again (an HTTP/1.1 head and chunks, or HEADERS and DATA frames).

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "proxy/asio.h"
#include "proxy/logging.h"
#include "proxy/protocols/http/body_relay.h"
#include "proxy/protocols/http/h1_wire.h"
#include "proxy/protocols/http/header_rules.h"
#include "proxy/protocols/http/upstream_link.h"
#include "proxy/protocols/http/watchdog.h"

namespace sb::runtime {
class Worker;
struct HttpPoolCounters;
}  // namespace sb::runtime

namespace sb::runtime::http {

class HttpHandler;
struct RoutePool;

using ResponseParser = boost::beast::http::response_parser<boost::beast::http::buffer_body>;

// A request body up to this size is kept for a replay on the next server
// (docs/configuration.md, `retry-on`).
constexpr std::uint64_t kReplayLimit = 64 * 1024;

// Who the client is: for forwarded headers, affinity and the access log.
struct ClientInfo {
  std::uint64_t connection = 0;  // the connection's id, for the access log
  std::string text;              // "address:port"
  std::string ip;                // without brackets, IPv4-mapped addresses unmapped
  bool v6 = false;
  bool tls = false;
  std::string tls_version;
  std::string sni;
};

// The request as everything behind the codec sees it.
struct Request {
  Fields* fields = nullptr;  // changed in place: the head the server gets
  boost::beast::http::verb method = boost::beast::http::verb::unknown;
  std::string_view method_string;
  std::string_view target;
  unsigned version = 11;            // HTTP/2 streams are 11: the server is spoken to in HTTP/1.1
  std::string host;                 // Host, or :authority: what the route matched
  Framing framing = Framing::none;  // of the body toward the server
  std::optional<std::uint64_t> content_length;
  bool expect_continue = false;
  bool keep_alive = true;  // the client connection may serve another request
};

// One of switchboard's own answers.
struct OwnAnswer {
  unsigned status;
  std::string_view phrase;
  std::string_view body;
  std::string_view reason;  // for the access log
  bool close;               // the client connection ends after it
  HttpPoolCounters* counters;
  std::optional<int> retry_after = std::nullopt;
};

// What the codec does for the exchange.
class ClientSide {
 public:
  virtual ~ClientSide() = default;
  // Whether the request's body has been received whole (or there is none).
  virtual bool body_done() const = 0;
  // "100 Continue" to a client that asked for it.
  virtual awaitable<bool> send_continue() = 0;
  // The whole body, kept for a replay: false when it is over `limit` bytes
  // or the client left.
  virtual awaitable<bool> read_whole_body(std::string& out, std::uint64_t limit) = 0;
  // The body, as it comes, to the server (in the request's framing).
  virtual awaitable<Relayed> send_body(Upstream& up, Watchdog& up_dog) = 0;
  // An interim response (1xx, not 100 or 101) passed on to the client.
  virtual awaitable<bool> send_interim(const ResponseParser::value_type& interim) = 0;
  virtual awaitable<void> answer(const OwnAnswer& a) = 0;
};

// How an exchange ended.
enum class Exchanged {
  response,        // a server's response head is read: the codec passes it on
  answered,        // switchboard answered itself; the client connection may go on
  answered_close,  // switchboard answered itself; the client connection ends
  client_gone,     // the client left (or could not be written to)
};

class Exchange {
 public:
  Exchange(Worker& worker, const HttpHandler& handler, const RoutePool& route,
           const ClientInfo& client, const net::ClientEndpoints& endpoints, Request& request,
           ClientSide& side, HttpAccessRecord& log, Watchdog& up_dog,
           boost::beast::flat_buffer& ubuf)
      : worker_(worker),
        h_(handler),
        route_(route),
        client_(client),
        endpoints_(endpoints),
        req_(request),
        side_(side),
        log_(log),
        up_dog_(up_dog),
        ubuf_(ubuf) {}

  // Picks a server and sends the request, presenting it to the next one on
  // `retry-on`, until a response head is read into `rparser` (with `up` its
  // connection) or switchboard answered. `pinned`: the client connection's
  // server connection after NTLM/Negotiate (HTTP/1.1 only; nullptr for h2).
  awaitable<Exchanged> run(std::optional<ResponseParser>& rparser, std::optional<Upstream>& up,
                           std::optional<Upstream>* pinned);

  // The server the request preferred (the affinity cookie or the client's
  // address), if any: a response from another one sets the cookie again.
  std::optional<std::uint64_t> preferred_server() const { return preferred_server_; }
  // The request's Authorization started NTLM/Negotiate.
  bool auth_request() const { return auth_request_; }

 private:
  void choose_affinity();
  void rewrite_head();
  awaitable<bool> read_response_head(Upstream& up, std::optional<ResponseParser>& rparser,
                                     bool& timed_out);
  awaitable<bool> to_server(Upstream& up, asio::const_buffer data);
  UpstreamStream attempt_stream(Upstream& up);

  Worker& worker_;
  const HttpHandler& h_;
  const RoutePool& route_;
  const ClientInfo& client_;
  const net::ClientEndpoints& endpoints_;
  Request& req_;
  ClientSide& side_;
  HttpAccessRecord& log_;
  Watchdog& up_dog_;
  boost::beast::flat_buffer& ubuf_;
  std::optional<std::uint64_t> hash_key_;
  std::optional<std::uint64_t> preferred_server_;
  bool auth_request_ = false;
  std::string head_;  // the request head the server gets
  std::string origin_form_;
  std::string server_name_;
};

// After the response: the server connection goes back to the keep-alive
// pool when it can serve another request, else it is closed.
void release_upstream(Worker& worker, Upstream& up, bool reusable);

// The affinity cookie for a response from `up`'s server, when the request
// preferred another server or none (docs/configuration.md, `affinity`).
void set_affinity_cookie(Fields& response, const HttpHandler& handler, const Upstream& up,
                         std::optional<std::uint64_t> preferred_server, bool tls);

// switchboard_server_bytes_total: the request's and the response's bodies.
void count_server_bytes(Worker& worker, const Upstream& up, const HttpAccessRecord& log);

}  // namespace sb::runtime::http
