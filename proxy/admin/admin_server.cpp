#include "proxy/admin/admin_server.h"

#include <spdlog/spdlog.h>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <array>
#include <fstream>
#include <sstream>

#include "net/endpoint.h"
#include "proxy/accept_pause.h"
#include "proxy/admin/admin_routes.h"
#include "proxy/host_port.h"
#include "proxy/listen_error.h"

namespace sb::runtime {
namespace beast = boost::beast;
namespace http = beast::http;

AdminServer::AdminServer(asio::io_context& io, const config::AdminConfig& cfg,
                         const std::atomic<bool>& shutting_down, PoolControl& pools)
    : io_(io),
      acceptor_(io),
      shutting_down_(shutting_down),
      pools_(pools),
      token_(read_token(cfg.token_file)) {
  const auto ep = to_endpoint(cfg.listen);
  if (!ep) throw ListenError("admin.listen " + cfg.listen.to_string() + ": not an IP address");
  if (token_.empty() && !ep->address().is_loopback()) {
    spdlog::warn(
        "admin.listen {} is not a loopback address and admin.token-file is not set: anyone who "
        "reaches it can drain, disable and reload",
        cfg.listen.to_string());
  }
  error_code ec;
  acceptor_.open(ep->protocol(), ec);
  if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_.bind(*ep, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw ListenError("cannot listen on " + cfg.listen.to_string() + ": " + ec.message());
}

std::string AdminServer::read_token(const std::string& path) {
  if (path.empty()) return {};
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  if (!in) throw ListenError("admin.token-file " + path + ": cannot read it");
  std::string token = text.str();
  // Surrounding whitespace (a trailing newline from echo) is not the token.
  const auto first = token.find_first_not_of(" \t\r\n");
  const auto last = token.find_last_not_of(" \t\r\n");
  token = first == std::string::npos ? "" : token.substr(first, last - first + 1);
  if (token.empty()) throw ListenError("admin.token-file " + path + " is empty");
  return token;
}

void AdminServer::start() {
  asio::co_spawn(io_, accept_loop(), asio::detached);
  spdlog::info("admin: listening on {}", net::to_string(acceptor_.local_endpoint()));
}

void AdminServer::stop() {
  error_code ignored;
  acceptor_.close(ignored);
}

awaitable<void> AdminServer::accept_loop() {
  AcceptPause pause(io_.get_executor(), "admin");
  for (;;) {
    auto [ec, socket] = co_await acceptor_.async_accept(use_nothrow);
    if (!acceptor_.is_open()) co_return;
    if (ec) {
      co_await pause.after(ec);  // out of descriptors: no spinning
      continue;
    }
    if (open_ >= kMaxConnections) {
      if (!full_logged_) {
        spdlog::warn("admin: {} connections open; closing new ones until one ends",
                     kMaxConnections);
        full_logged_ = true;
      }
      error_code ignored;
      socket.close(ignored);
      continue;
    }
    ++open_;
    asio::co_spawn(io_, serve(std::move(socket)), [this](std::exception_ptr e) {
      --open_;
      if (open_ < kMaxConnections) full_logged_ = false;
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        spdlog::error("admin: a connection ended by an exception: {}", ex.what());
      } catch (...) {
        spdlog::error("admin: a connection ended by an unknown exception");
      }
    });
  }
}

namespace {

// Answers a request the parser gave up on (over a limit) and closes. The
// client may still be sending it: what comes is read and dropped for a
// moment after our answer, so that the close does not turn into a reset
// that would discard the answer before the client reads it.
awaitable<void> refuse(beast::tcp_stream& stream, http::status status, std::string_view why) {
  http::response<http::string_body> res{status, 11};
  res.set(http::field::content_type, "text/plain");
  res.set(http::field::connection, "close");
  res.body() = std::string(why) + "\n";
  res.prepare_payload();
  stream.expires_after(std::chrono::seconds(5));
  auto [wec, wn] = co_await http::async_write(stream, res, use_nothrow);
  if (wec) co_return;
  error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  stream.expires_after(std::chrono::seconds(1));
  std::array<char, 16 * 1024> sink;
  for (std::size_t drained = 0; drained < 1024 * 1024;) {
    auto [ec, n] = co_await stream.async_read_some(asio::buffer(sink), use_nothrow);
    if (ec) break;
    drained += n;
  }
}

}  // namespace

awaitable<void> AdminServer::serve(tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(kMaxHeaderBytes);
    parser.body_limit(kMaxBodyBytes);
    stream.expires_after(kRequestTimeout);
    auto [ec, n] = co_await http::async_read(stream, buffer, parser, use_nothrow);
    if (ec == http::error::header_limit) {
      co_await refuse(stream, http::status::request_header_fields_too_large,
                      "request header fields too large");
      co_return;
    }
    if (ec == http::error::body_limit) {
      co_await refuse(stream, http::status::payload_too_large, "request body too large");
      co_return;
    }
    if (ec) co_return;  // closed, timed out or malformed: nothing to answer
    const AdminContext ctx{pools_,     token_,  shutting_down_.load(), metrics_, reload_, liveness_,
                           listeners_, started_};
    auto res = handle_admin_request(parser.get(), ctx);
    if (parser.get().method() == http::verb::head) res.body().clear();
    stream.expires_after(kResponseTimeout);
    auto [wec, wn] = co_await http::async_write(stream, res, use_nothrow);
    if (wec || !res.keep_alive()) break;
  }
  error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

}  // namespace sb::runtime
