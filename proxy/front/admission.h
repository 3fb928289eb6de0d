#pragma once
// Admission of accepted connections to a listener (docs/architecture.md, "The life of a connection"
// step 2): deny list, then allow list, then max-connections and max-connections-per-source. A
// refused connection is closed at once by the caller, and counted and logged (rate-limited,
// proxy/front/refusal_log.h) here.
//
// Thread-safe: one Admission is shared by the listener's acceptors on every
// worker. The global limit is one atomic; the per-source limit takes a mutex,
// but only when it is configured (it is off by default).

#include <cstdint>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

#include "net/codec/cidr.h"
#include "proxy/config/config.h"
#include "proxy/front/listener_stats.h"
#include "proxy/front/refusal_log.h"

namespace sb::runtime {

class Admission;

// Holds the slot of one admitted connection (and its source's share of the
// per-source limit once the source is known); releases both on destruction.
class AdmissionTicket {
 public:
  AdmissionTicket() = default;
  explicit AdmissionTicket(Admission* owner);
  AdmissionTicket(AdmissionTicket&& o) noexcept;
  AdmissionTicket& operator=(AdmissionTicket&& o) noexcept;
  AdmissionTicket(const AdmissionTicket&) = delete;
  AdmissionTicket& operator=(const AdmissionTicket&) = delete;
  ~AdmissionTicket();

 private:
  friend class Admission;
  void release();
  Admission* owner_ = nullptr;
  bool has_source_ = false;  // counted in the per-source limit
  net::IpAddress source_;
};

class Admission {
 public:
  // The listener's allow, deny, max-connections and max-connections-per-source.
  Admission(const config::ListenerConfig& cfg, ListenerStats& stats);

  // True when the source passes deny/allow. Counts `acl` when not.
  bool acl_allows(const net::IpAddress& source);
  // A ticket when a slot is free; nullopt (counted as `limit`) otherwise.
  // reserve() then assign().
  std::optional<AdmissionTicket> admit(const net::IpAddress& source);

  // A slot of max-connections alone, for a connection whose client is not
  // known yet (a PROXY header still to come): it counts from its accept.
  // `peer`, the socket's, names the connection in the log when refused.
  std::optional<AdmissionTicket> reserve(const net::IpAddress& peer);
  // The client of a reserved slot is now known: its per-source limit
  // applies, and the connection counts as admitted. False (counted as
  // `limit`) when over it; the caller then drops the ticket.
  bool assign(AdmissionTicket& ticket, const net::IpAddress& source);

  RefusalLog& refusals() { return refusals_; }
  // Counts and logs (rate-limited) a connection refused for `reason`; the
  // front door's own refusals (a peer not in proxy-from) come here too.
  void refuse(RejectReason reason, const net::IpAddress& source);

 private:
  friend class AdmissionTicket;
  void release(const AdmissionTicket& ticket);

  struct IpHash {
    std::size_t operator()(const net::IpAddress& ip) const noexcept;
  };

  std::vector<net::Cidr> allow_;
  std::vector<net::Cidr> deny_;
  std::uint32_t max_connections_;
  std::uint32_t max_per_source_;
  ListenerStats& stats_;
  RefusalLog refusals_;
  std::mutex per_source_mutex_;
  std::unordered_map<net::IpAddress, std::uint32_t, IpHash> per_source_;
};

}  // namespace sb::runtime
