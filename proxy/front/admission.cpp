#include "proxy/front/admission.h"

#include <cstring>
#include <string_view>

namespace sb::runtime {

AdmissionTicket::AdmissionTicket(Admission* owner) : owner_(owner) {}

AdmissionTicket::AdmissionTicket(AdmissionTicket&& o) noexcept
    : owner_(o.owner_), has_source_(o.has_source_), source_(o.source_) {
  o.owner_ = nullptr;
}

AdmissionTicket& AdmissionTicket::operator=(AdmissionTicket&& o) noexcept {
  if (this != &o) {
    release();
    owner_ = o.owner_;
    has_source_ = o.has_source_;
    source_ = o.source_;
    o.owner_ = nullptr;
  }
  return *this;
}

AdmissionTicket::~AdmissionTicket() {
  release();
}

void AdmissionTicket::release() {
  if (owner_) owner_->release(*this);
  owner_ = nullptr;
}

Admission::Admission(const config::ListenerConfig& cfg, ListenerStats& stats)
    : allow_(cfg.allow),
      deny_(cfg.deny),
      max_connections_(cfg.max_connections),
      max_per_source_(cfg.max_connections_per_source),
      stats_(stats),
      refusals_(cfg, stats) {}

bool Admission::acl_allows(const net::IpAddress& source) {
  bool ok = true;
  for (const auto& c : deny_) {
    if (c.contains(source)) {
      ok = false;
      break;
    }
  }
  if (ok && !allow_.empty()) {
    ok = false;
    for (const auto& c : allow_) {
      if (c.contains(source)) {
        ok = true;
        break;
      }
    }
  }
  if (!ok) refuse(RejectReason::acl, source);
  return ok;
}

std::optional<AdmissionTicket> Admission::admit(const net::IpAddress& source) {
  auto ticket = reserve(source);
  if (!ticket || !assign(*ticket, source)) return std::nullopt;
  return ticket;
}

std::optional<AdmissionTicket> Admission::reserve(const net::IpAddress& peer) {
  const auto before = stats_.active.fetch_add(1, std::memory_order_relaxed);
  if (before >= static_cast<std::int64_t>(max_connections_)) {
    stats_.active.fetch_sub(1, std::memory_order_relaxed);
    refuse(RejectReason::limit, peer);
    return std::nullopt;
  }
  return AdmissionTicket(this);
}

bool Admission::assign(AdmissionTicket& ticket, const net::IpAddress& source) {
  if (max_per_source_ > 0) {
    std::lock_guard lock(per_source_mutex_);
    auto& n = per_source_[source.unmapped()];
    if (n >= max_per_source_) {
      if (n == 0) per_source_.erase(source.unmapped());
      refuse(RejectReason::limit, source);
      return false;
    }
    ++n;
    ticket.has_source_ = true;
    ticket.source_ = source.unmapped();
  }
  stats_.connections_total.fetch_add(1, std::memory_order_relaxed);
  return true;
}

void Admission::refuse(RejectReason reason, const net::IpAddress& source) {
  stats_.count_rejected(reason);
  refusals_.refused(reason, source.unmapped());
}

void Admission::release(const AdmissionTicket& ticket) {
  stats_.active.fetch_sub(1, std::memory_order_relaxed);
  if (!ticket.has_source_) return;
  std::lock_guard lock(per_source_mutex_);
  auto it = per_source_.find(ticket.source_);
  if (it != per_source_.end() && --it->second == 0) per_source_.erase(it);
}

std::size_t Admission::IpHash::operator()(const net::IpAddress& ip) const noexcept {
  return std::hash<std::string_view>{}(
             std::string_view(reinterpret_cast<const char*>(ip.bytes.data()), ip.v6 ? 16 : 4)) ^
         static_cast<std::size_t>(ip.v6);
}

}  // namespace sb::runtime
