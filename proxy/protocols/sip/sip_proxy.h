#pragma once
// The sip listener's proxy core on one worker (docs/configuration.md, "sip";
// docs/architecture.md, "SIP calls"): a transaction-stateful proxy after
// RFC 3261 §16 that presents each INVITE to the next server of its pool
// when one does not take the call, and keeps Call-ID -> server so that the
// rest of a call reaches the server that answered.
//
//   transactions: one per request from a caller (or from a server within a
//     call), keyed by its top Via branch; the proxy's own branch toward the
//     server names the transaction and the try ("z9hG4bKsb<id>.<try>"), so
//     that a server's response finds it without a lookup by string;
//   dialogs: Call-ID -> {server, caller}, kept until dialog-timeout, 32 s
//     after a BYE or a failed INVITE;
//   timers: one heap per worker (retransmissions over UDP, invite-timeout,
//     the end of a transaction), one Asio timer armed for its earliest
//     entry; calls are swept for expiry every few seconds while there are
//     any (a heap entry per call would stay for dialog-timeout, hours,
//     long after most calls ended).
//
// Transport-blind: messages come in through receive() with their Peer and go
// out through SipIo. Worker thread only; nothing is shared with other
// workers (a call's messages reach one worker: see docs/architecture.md).

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <queue>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "net/codec/sip_message.h"
#include "proxy/asio.h"
#include "proxy/config/config.h"
#include "proxy/control/pool_registry.h"
#include "proxy/front/listener_stats.h"
#include "proxy/protocols/sip/sip_peer.h"
#include "proxy/upstream/attempt.h"

namespace sb::runtime {
class Worker;
}

namespace sb::sip {

using Clock = std::chrono::steady_clock;

struct SipSettings {
  std::string listener;
  std::vector<config::StatusRange> failover_on;
  std::chrono::milliseconds invite_timeout{4000};
  std::chrono::milliseconds dialog_timeout{std::chrono::hours(12)};
  bool record_route = true;
};

class SipProxy {
 public:
  // Bounds per worker: beyond them a new request gets 503 (transactions),
  // a new call is not remembered (dialogs; its in-dialog requests then get
  // 481 unless their Request-URI names a server of the pool).
  static constexpr std::size_t kMaxTransactions = 200000;
  static constexpr std::size_t kMaxDialogs = 1000000;
  // And the bytes the transactions hold (requests and their copies).
  static constexpr std::size_t kMaxHeldBytes = std::size_t{256} << 20;

  SipProxy(runtime::Worker& worker, std::shared_ptr<const runtime::PoolRuntime> pool,
           SipSettings settings, std::shared_ptr<runtime::ListenerStats> stats, SipIo& io);
  ~SipProxy();
  SipProxy(const SipProxy&) = delete;
  SipProxy& operator=(const SipProxy&) = delete;

  // The listener is gone: no timer stays armed.
  void stop();
  // A reload kept the listener (see SipWorker::reconfigure).
  void reconfigure(std::shared_ptr<const runtime::PoolRuntime> pool, SipSettings settings);

  // One message (a datagram, or one framed from a TCP stream) from `from`.
  void receive(std::string_view bytes, const Peer& from);
  // A TCP link to a server failed or closed: the tries in flight on it go
  // to the next server.
  void link_failed(const SipLink* link);
  // A message over the size limit arrived from `from` (counted).
  void too_large();
  // A caller's TCP connection ended: its calls being set up are cancelled.
  void origin_closed(const SipLink* link);

  std::size_t transactions() const { return txns_.size(); }
  std::size_t dialogs() const { return dialogs_.size(); }

 private:
  struct Branch;
  struct Txn;
  struct Dialog;

  void on_request(const net::SipMessage& m, std::string_view bytes, const Peer& from);
  void on_response(const net::SipMessage& m, const Peer& from);
  void on_cancel(const net::SipMessage& m, const Peer& from);
  void on_ack(const net::SipMessage& m, std::string_view bytes, const Peer& from);
  void in_dialog(const net::SipMessage& m, std::string_view bytes, const Peer& from);
  // Where a request within a call goes (the server or the caller), and
  // which way; nullopt when the call is unknown and the Request-URI names
  // no server of the pool.
  std::optional<Peer> dialog_target(const net::SipMessage& m, const Peer& from,
                                    bool& toward_caller);
  // Whether `from` may answer a request sent to `sent_to`.
  static bool answers_from(const Peer& sent_to, const Peer& from);
  // The pool's server that the Request-URI of `m` names, as a peer.
  std::optional<Peer> pool_server_named(const net::SipMessage& m, bool tcp);
  void new_call(const net::SipMessage& m, std::string_view bytes, const Peer& from);
  void on_branch_response(Txn& t, const net::SipMessage& m);
  void on_abandoned_response(Txn& t, Branch& b, const net::SipMessage& m);

  Txn& open_txn(std::string key, const net::SipMessage& m, std::string_view bytes,
                const Peer& from);
  // Presents the transaction's request to the next server of the pool;
  // answers 503 when none is left.
  void present(Txn& t);
  void forward(Txn& t, const Peer& target, std::optional<runtime::PickedServer> server);
  void abandon_branch(Txn& t);
  void fail_over(Txn& t, balancer::ConnectFailure kind);
  void cancel_branch(Txn& t, Branch& b);
  void respond_to_origin(Txn& t, std::string_view bytes, int status);
  void own_response(Txn& t, int status, std::string_view extra = {});
  void finish(Txn& t, int status);
  void reply(const net::SipMessage& m, const Peer& to, int status, std::string_view extra = {});
  void drop(std::string_view why);
  void remember_dialog(const Txn& t, Clock::duration lifetime);
  void expire_dialog(std::string_view call_id, Clock::time_point when);
  void sweep_dialogs(Clock::time_point now);
  void want_sweep();
  void end_dialog(std::string_view call_id, Clock::duration within);

  void schedule(Txn& t);
  void arm(Clock::time_point when);
  void run_timers();
  void on_timer(Txn& t, Clock::time_point now);
  void erase(Txn& t);
  bool full(std::size_t incoming) const;
  static void strip_body(std::string& forwarded);

  std::string branch_for(const Txn& t, std::uint32_t attempt) const;
  bool is_failover_status(int status) const;

  runtime::Worker& worker_;
  std::shared_ptr<const runtime::PoolRuntime> pool_;
  SipSettings settings_;
  std::shared_ptr<runtime::ListenerStats> stats_;
  SipIo& io_;
  std::string tag_;            // the To tag of the proxy's own final responses
  std::string branch_prefix_;  // "z9hG4bKsb<secret>." of every branch it sends

  net::SipMessage msg_;      // the message being handled (reused)
  net::SipMessage scratch_;  // a stored message parsed again (reused)
  std::string out_;          // the message being written (reused)

  std::uint64_t next_id_ = 1;
  std::unordered_map<std::uint64_t, std::unique_ptr<Txn>> txns_;
  std::unordered_map<std::string, Txn*> by_key_;  // the caller's branch -> transaction
  std::unordered_map<std::string, Dialog> dialogs_;

  struct TimerEntry {
    Clock::time_point when;
    std::uint64_t id;   // a transaction, or 0 for the dialog sweep
    std::uint64_t seq;  // stale when the transaction rescheduled since
    bool operator>(const TimerEntry& o) const { return when > o.when; }
  };
  std::priority_queue<TimerEntry, std::vector<TimerEntry>, std::greater<>> timers_;
  bool sweep_pending_ = false;  // a dialog sweep is in timers_
  asio::steady_timer timer_;
  Clock::time_point armed_ = Clock::time_point::max();
  std::size_t held_bytes_ = 0;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace sb::sip
