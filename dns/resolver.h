#pragma once
// c-ares on an Asio event loop: its sockets are watched by the loop (through
// ARES_OPT_SOCK_STATE_CB and posix::stream_descriptor) and its timeouts by
// one timer, so lookups need no thread of their own and never block
// (nghttpx's shrpx_dns_resolver does the same on libev). One Resolver per
// event loop; not thread-safe, like the loop's other objects.

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "dns/records.h"

struct ares_channeldata;

namespace sb::dns {

struct ResolverOptions {
  // "IP:PORT" or "[IPv6]:PORT"; empty: the system's resolv.conf (and
  // /etc/hosts). With servers given, only they are asked.
  std::vector<std::string> servers;
  std::chrono::milliseconds timeout{2000};
  int attempts = 2;
};

// switchboard_resolver_queries_total{result} (README.md "Prometheus and Grafana"), read by metrics.
struct ResolverStats {
  std::atomic<std::uint64_t> ok{0};  // an answer, records or not (NODATA)
  std::atomic<std::uint64_t> nxdomain{0};
  std::atomic<std::uint64_t> error{0};  // timeout, SERVFAIL, REFUSED, malformed, ...
};

class Resolver {
 public:
  // Throws std::runtime_error when c-ares cannot start (bad server list).
  Resolver(boost::asio::any_io_executor executor, const ResolverOptions& options);
  ~Resolver();
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  // Every A and AAAA record of `name`.
  boost::asio::awaitable<Lookup<AddressRecord>> addresses(const std::string& name);
  boost::asio::awaitable<Lookup<SrvRecord>> srv(const std::string& name);
  boost::asio::awaitable<Lookup<MxRecord>> mx(const std::string& name);

  const ResolverStats& stats() const { return stats_; }

 private:
  struct Watch;
  template <class Record>
  using Done = std::function<void(Lookup<Record>)>;

  void start_addresses(const std::string& name, Done<AddressRecord> done);
  void start_query(const std::string& name, int type,
                   std::function<void(int status, const unsigned char*, int)> done);
  template <class Record>
  void count(const Lookup<Record>& lookup);

  static void on_socket_state(void* self, int fd, int readable, int writable);
  void watch(int fd, bool readable, bool writable);
  void arm(const std::shared_ptr<Watch>& w);
  void process(int read_fd, int write_fd);
  void schedule_timeout();

  boost::asio::any_io_executor executor_;
  ares_channeldata* channel_ = nullptr;
  boost::asio::steady_timer timer_;
  std::map<int, std::shared_ptr<Watch>> watches_;
  ResolverStats stats_;
};

}  // namespace sb::dns
