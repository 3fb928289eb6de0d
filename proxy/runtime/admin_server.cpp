#include "proxy/runtime/admin_server.h"

#include <spdlog/spdlog.h>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "proxy/runtime/endpoint.h"
#include "proxy/runtime/listener.h"

namespace sb::runtime {
namespace beast = boost::beast;
namespace http = beast::http;

namespace {

http::response<http::string_body> respond(const http::request<http::string_body>& req,
                                          bool shutting_down) {
  http::response<http::string_body> res;
  res.version(req.version());
  res.keep_alive(req.keep_alive());
  res.set(http::field::server, "switchboard");
  const std::string_view target(req.target().data(), req.target().size());
  const std::string_view path = target.substr(0, target.find('?'));
  if (path == "/healthz") {
    if (req.method() != http::verb::get && req.method() != http::verb::head) {
      res.result(http::status::method_not_allowed);
      res.set(http::field::allow, "GET, HEAD");
      res.set(http::field::content_type, "application/json");
      res.body() = R"({"error":"method not allowed"})";
    } else {
      res.result(shutting_down ? http::status::service_unavailable : http::status::ok);
      res.set(http::field::content_type, "text/plain");
      res.body() = shutting_down ? "shutting down\n" : "ok\n";
    }
  } else {
    res.result(http::status::not_found);
    res.set(http::field::content_type, "application/json");
    res.body() = R"({"error":"not found"})";
  }
  res.prepare_payload();
  if (req.method() == http::verb::head) res.body().clear();
  return res;
}

}  // namespace

AdminServer::AdminServer(asio::io_context& io, const config::AdminConfig& cfg,
                         const std::atomic<bool>& shutting_down)
    : io_(io), acceptor_(io), shutting_down_(shutting_down) {
  const auto ep = to_endpoint(cfg.listen);
  if (!ep) throw ListenError("admin.listen " + cfg.listen.to_string() + ": not an IP address");
  error_code ec;
  acceptor_.open(ep->protocol(), ec);
  if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_.bind(*ep, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw ListenError("cannot listen on " + cfg.listen.to_string() + ": " + ec.message());
}

void AdminServer::start() {
  asio::co_spawn(io_, accept_loop(), asio::detached);
  spdlog::info("admin: listening on {}", to_string(acceptor_.local_endpoint()));
}

void AdminServer::stop() {
  error_code ignored;
  acceptor_.close(ignored);
}

awaitable<void> AdminServer::accept_loop() {
  for (;;) {
    auto [ec, socket] = co_await acceptor_.async_accept(use_nothrow);
    if (!acceptor_.is_open()) co_return;
    if (ec) continue;
    asio::co_spawn(io_, serve(std::move(socket)), asio::detached);
  }
}

awaitable<void> AdminServer::serve(tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(16 * 1024);
    parser.body_limit(1024 * 1024);
    stream.expires_after(std::chrono::seconds(30));
    auto [ec, n] = co_await http::async_read(stream, buffer, parser, use_nothrow);
    if (ec) co_return;  // closed, timed out or malformed: nothing to answer
    auto res = respond(parser.get(), shutting_down_.load());
    auto [wec, wn] = co_await http::async_write(stream, res, use_nothrow);
    if (wec || !res.keep_alive()) break;
  }
  error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

}  // namespace sb::runtime
