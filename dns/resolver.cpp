#include "dns/resolver.h"

#include <ares.h>
#include <arpa/nameser.h>
#include <netinet/in.h>

#include <boost/asio.hpp>
#include <cstring>
#include <mutex>
#include <stdexcept>

namespace sb::dns {

namespace asio = boost::asio;

struct Resolver::Watch {
  Watch(asio::any_io_executor ex, int fd) : fd(fd), descriptor(ex, fd) {}
  int fd;
  asio::posix::stream_descriptor descriptor;  // does not own fd: c-ares closes it
  bool want_read = false, want_write = false;
  bool read_armed = false, write_armed = false;
  bool closed = false;  // c-ares is done with fd; queued handlers must not use it
};

namespace {

LookupStatus status_of(int ares_status) {
  switch (ares_status) {
    case ARES_SUCCESS:
      return LookupStatus::ok;
    case ARES_ENOTFOUND:
      return LookupStatus::nxdomain;
    case ARES_ENODATA:
      return LookupStatus::nodata;
    default:
      return LookupStatus::error;
  }
}

template <class Record>
Lookup<Record> failed(int ares_status) {
  Lookup<Record> out;
  out.status = status_of(ares_status);
  out.error = ares_strerror(ares_status);
  return out;
}

// Parses a raw SRV/MX reply into a Lookup.
template <class Record, class Parse>
Lookup<Record> parsed(int ares_status, const unsigned char* msg, int length, Parse parse) {
  if (ares_status != ARES_SUCCESS) return failed<Record>(ares_status);
  auto records = parse(msg, length);
  if (!records) return failed<Record>(ARES_EBADRESP);
  Lookup<Record> out;
  out.status = records->empty() ? LookupStatus::nodata : LookupStatus::ok;
  out.records = std::move(*records);
  return out;
}

// c-ares calls back with a heap object we gave it as `arg`.
template <class F>
F* hold(F f) {
  return new F(std::move(f));
}

// Adapts a callback-style start to an awaitable: the result is posted to
// the coroutine's executor, never delivered inside c-ares' own processing.
// A plain function around async_initiate, not a coroutine: GCC 12 destroys
// closure temporaries inside a co_await expression twice.
template <class Record>
struct LookupInitiation {
  asio::any_io_executor executor;
  std::function<void(std::function<void(Lookup<Record>)>)> start;

  template <class Handler>
  void operator()(Handler handler) {
    // std::function needs a copyable callable: share the move-only handler.
    auto shared = std::make_shared<Handler>(std::move(handler));
    start([executor = executor, shared](Lookup<Record> result) {
      asio::post(executor,
                 [shared, result = std::move(result)]() mutable { (*shared)(std::move(result)); });
    });
  }
};

template <class Record>
asio::awaitable<Lookup<Record>> await_lookup(
    asio::any_io_executor executor,
    std::function<void(std::function<void(Lookup<Record>)>)> start) {
  return asio::async_initiate<const asio::use_awaitable_t<>&, void(Lookup<Record>)>(
      LookupInitiation<Record>{std::move(executor), std::move(start)}, asio::use_awaitable);
}

}  // namespace

Resolver::Resolver(asio::any_io_executor executor, const ResolverOptions& options)
    : executor_(std::move(executor)), timer_(executor_) {
  static std::once_flag library;
  std::call_once(library, [] { ares_library_init(ARES_LIB_INIT_ALL); });
  ares_options o{};
  int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES;
  o.sock_state_cb = &Resolver::on_socket_state;
  o.sock_state_cb_data = this;
  o.timeout = static_cast<int>(options.timeout.count());
  o.tries = options.attempts;
  // Configured servers are the only source: no /etc/hosts behind their back.
  char dns_only[] = "b";
  if (!options.servers.empty()) {
    o.lookups = dns_only;
    mask |= ARES_OPT_LOOKUPS;
  }
  if (const int rc = ares_init_options(&channel_, &o, mask); rc != ARES_SUCCESS) {
    throw std::runtime_error(std::string("c-ares: ") + ares_strerror(rc));
  }
  if (!options.servers.empty()) {
    std::string csv;
    for (const auto& s : options.servers) csv += (csv.empty() ? "" : ",") + s;
    if (const int rc = ares_set_servers_ports_csv(channel_, csv.c_str()); rc != ARES_SUCCESS) {
      ares_destroy(channel_);
      throw std::runtime_error("resolver servers \"" + csv + "\": " + ares_strerror(rc));
    }
  }
}

Resolver::~Resolver() {
  for (auto& [fd, w] : watches_) {
    w->closed = true;
    w->descriptor.release();
  }
  watches_.clear();
  timer_.cancel();
  // Pending lookups end with ARES_EDESTRUCTION; their results are posted.
  ares_destroy(channel_);
}

void Resolver::on_socket_state(void* self, int fd, int readable, int writable) {
  static_cast<Resolver*>(self)->watch(fd, readable != 0, writable != 0);
}

void Resolver::watch(int fd, bool readable, bool writable) {
  auto it = watches_.find(fd);
  if (!readable && !writable) {  // c-ares is about to close fd
    if (it != watches_.end()) {
      it->second->closed = true;
      it->second->descriptor.release();  // cancels its waits, leaves fd open
      watches_.erase(it);
    }
    return;
  }
  if (it == watches_.end()) it = watches_.emplace(fd, std::make_shared<Watch>(executor_, fd)).first;
  it->second->want_read = readable;
  it->second->want_write = writable;
  arm(it->second);
}

void Resolver::arm(const std::shared_ptr<Watch>& w) {
  // One wait per direction; each re-arms itself while c-ares wants it.
  const auto wait = [this, &w](asio::posix::descriptor_base::wait_type type, bool Watch::*armed,
                               bool Watch::*wanted, bool reading) {
    if (!((*w).*wanted) || (*w).*armed) return;
    (*w).*armed = true;
    w->descriptor.async_wait(type, [this, w, armed, reading](const boost::system::error_code& ec) {
      (*w).*armed = false;
      if (w->closed || ec) return;
      process(reading ? w->fd : ARES_SOCKET_BAD, reading ? ARES_SOCKET_BAD : w->fd);
      if (!w->closed) arm(w);
    });
  };
  wait(asio::posix::descriptor_base::wait_read, &Watch::read_armed, &Watch::want_read, true);
  wait(asio::posix::descriptor_base::wait_write, &Watch::write_armed, &Watch::want_write, false);
}

void Resolver::process(int read_fd, int write_fd) {
  ares_process_fd(channel_, read_fd, write_fd);
  schedule_timeout();
}

void Resolver::schedule_timeout() {
  timeval tv{};
  if (!ares_timeout(channel_, nullptr, &tv)) {
    timer_.cancel();
    return;
  }
  timer_.expires_after(std::chrono::seconds(tv.tv_sec) + std::chrono::microseconds(tv.tv_usec));
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;  // re-armed or cancelled (possibly after destruction)
    process(ARES_SOCKET_BAD, ARES_SOCKET_BAD);
  });
}

template <class Record>
void Resolver::count(const Lookup<Record>& lookup) {
  switch (lookup.status) {
    case LookupStatus::ok:
    case LookupStatus::nodata:
      stats_.ok.fetch_add(1, std::memory_order_relaxed);
      break;
    case LookupStatus::nxdomain:
      stats_.nxdomain.fetch_add(1, std::memory_order_relaxed);
      break;
    case LookupStatus::error:
      stats_.error.fetch_add(1, std::memory_order_relaxed);
      break;
  }
}

void Resolver::start_addresses(const std::string& name, Done<AddressRecord> done) {
  ares_addrinfo_hints hints{};
  hints.ai_family = AF_UNSPEC;
  // No sorting: it would connect() a UDP socket per address to rank them,
  // and every address becomes a server anyway.
  hints.ai_flags = ARES_AI_NOSORT;
  using Callback = std::pair<Resolver*, Done<AddressRecord>>;
  ares_getaddrinfo(
      channel_, name.c_str(), nullptr, &hints,
      [](void* arg, int status, int, ares_addrinfo* info) {
        std::unique_ptr<Callback> cb(static_cast<Callback*>(arg));
        Lookup<AddressRecord> out =
            status == ARES_SUCCESS ? Lookup<AddressRecord>{} : failed<AddressRecord>(status);
        if (status == ARES_SUCCESS) {
          out.status = LookupStatus::ok;
          for (auto* node = info->nodes; node; node = node->ai_next) {
            AddressRecord r;
            r.ttl = std::chrono::seconds(std::max(0, node->ai_ttl));
            if (node->ai_family == AF_INET6) {
              r.ip.v6 = true;
              std::memcpy(r.ip.bytes.data(),
                          &reinterpret_cast<sockaddr_in6*>(node->ai_addr)->sin6_addr, 16);
            } else if (node->ai_family == AF_INET) {
              std::memcpy(r.ip.bytes.data(),
                          &reinterpret_cast<sockaddr_in*>(node->ai_addr)->sin_addr, 4);
            } else {
              continue;
            }
            if (std::find(out.records.begin(), out.records.end(), r) == out.records.end()) {
              out.records.push_back(r);
            }
          }
          if (out.records.empty()) out.status = LookupStatus::nodata;
        }
        if (info) ares_freeaddrinfo(info);
        if (status != ARES_EDESTRUCTION) cb->first->count(out);
        cb->second(std::move(out));
      },
      hold(Callback{this, std::move(done)}));
  schedule_timeout();
}

void Resolver::start_query(const std::string& name, int type,
                           std::function<void(int, const unsigned char*, int)> done) {
  using Callback = std::function<void(int, const unsigned char*, int)>;
  ares_query(
      channel_, name.c_str(), C_IN, type,
      [](void* arg, int status, int, unsigned char* msg, int length) {
        std::unique_ptr<Callback> cb(static_cast<Callback*>(arg));
        (*cb)(status, msg, length);
      },
      hold(std::move(done)));
  schedule_timeout();
}

asio::awaitable<Lookup<AddressRecord>> Resolver::addresses(const std::string& name) {
  return await_lookup<AddressRecord>(executor_, [this, name](Done<AddressRecord> done) {
    start_addresses(name, std::move(done));
  });
}

asio::awaitable<Lookup<SrvRecord>> Resolver::srv(const std::string& name) {
  return await_lookup<SrvRecord>(executor_, [this, name](Done<SrvRecord> done) {
    start_query(name, T_SRV, [this, done](int status, const unsigned char* msg, int length) {
      auto out = parsed<SrvRecord>(status, msg, length, parse_srv_answer);
      if (status != ARES_EDESTRUCTION) count(out);
      done(std::move(out));
    });
  });
}

asio::awaitable<Lookup<MxRecord>> Resolver::mx(const std::string& name) {
  return await_lookup<MxRecord>(executor_, [this, name](Done<MxRecord> done) {
    start_query(name, T_MX, [this, done](int status, const unsigned char* msg, int length) {
      auto out = parsed<MxRecord>(status, msg, length, parse_mx_answer);
      if (status != ARES_EDESTRUCTION) count(out);
      done(std::move(out));
    });
  });
}

}  // namespace sb::dns
