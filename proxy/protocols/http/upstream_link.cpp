#include "proxy/protocols/http/upstream_link.h"

#include "proxy/protocols/http/route_table.h"
#include "proxy/protocols/http/watchdog.h"

namespace sb::runtime::http {

std::string sni_of(std::string_view host) {
  std::string out;
  normalize_host(host, out);
  if (!out.empty() && out.front() == '[') out = out.substr(1, out.size() - 2);
  return out;
}

awaitable<std::optional<balancer::ConnectFailure>> UpstreamTls::accept(
    tcp::socket& server, const balancer::ServerView& /*view*/) {
  net::Stream stream(std::move(server), context_);
  Watchdog dog(stream.socket());
  dog.arm(timeout_);
  // A named local, not a conditional temporary: GCC 12 destroys a
  // temporary made by ?: inside a co_await expression twice.
  std::string verify_host;
  if (verify_) verify_host = sni_;
  const error_code ec = co_await stream.handshake_client(sni_, verify_host);
  co_await dog.stop();
  if (ec) {
    stream.close();
    co_return balancer::ConnectFailure::tls;
  }
  connected_.emplace(std::move(stream));
  co_return std::nullopt;
}

std::optional<net::Stream> UpstreamTls::take() {
  auto s = std::move(connected_);
  connected_.reset();
  return s;
}

bool PooledReuse::reuse(const balancer::ServerView& view) {
  if (!enabled_) return false;
  taken_ = pool_.take(key(view.id), always_check_);
  return taken_.has_value();
}

std::optional<net::Stream> PooledReuse::take() {
  auto s = std::move(taken_);
  taken_.reset();
  return s;
}

}  // namespace sb::runtime::http
