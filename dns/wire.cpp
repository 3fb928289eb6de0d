#include "dns/wire.h"

#include <algorithm>
#include <cstring>

namespace sb::dns::wire {
namespace {

std::uint16_t read16(std::span<const std::uint8_t> p, std::size_t at) {
  return static_cast<std::uint16_t>(p[at] << 8 | p[at + 1]);
}

char lower(std::uint8_t c) {
  return static_cast<char>(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
}

// Reads the question name at `pos`; returns the offset after it (after the
// first pointer, if any) or 0 when the name is malformed.
std::size_t read_question_name(std::span<const std::uint8_t> p, std::size_t pos, Query& q) {
  std::size_t end = 0;  // where the name ends in the packet (set at the first pointer)
  std::size_t hops = 0;
  q.wire_name_len = 0;
  q.text_len = 0;
  for (;;) {
    if (pos >= p.size()) return 0;
    const std::uint8_t len = p[pos];
    if ((len & 0xC0) == 0xC0) {
      if (pos + 1 >= p.size()) return 0;
      const std::size_t target = static_cast<std::size_t>((len & 0x3F) << 8 | p[pos + 1]);
      // Only backwards, into what came before this label: no loops.
      if (target >= pos || target < kHeaderSize || ++hops > 64) return 0;
      if (end == 0) end = pos + 2;
      pos = target;
      continue;
    }
    if ((len & 0xC0) != 0) return 0;  // 0x40 / 0x80: no such label types in use
    if (q.wire_name_len + 1 + len > kMaxName) return 0;
    q.wire_name[q.wire_name_len++] = len;
    if (len == 0) {
      if (end == 0) end = pos + 1;
      return end;
    }
    if (pos + 1 + len > p.size()) return 0;
    if (q.text_len != 0) q.text[q.text_len++] = '.';
    for (std::size_t i = 0; i < len; ++i) {
      const std::uint8_t c = p[pos + 1 + i];
      q.wire_name[q.wire_name_len++] = c;
      // text never overflows: it is at most wire length - 1.
      q.text[q.text_len++] = lower(c);
    }
    pos += 1 + len;
  }
}

}  // namespace

std::string_view to_string(Rcode r) {
  switch (r) {
    case Rcode::noerror:
      return "NOERROR";
    case Rcode::formerr:
      return "FORMERR";
    case Rcode::servfail:
      return "SERVFAIL";
    case Rcode::nxdomain:
      return "NXDOMAIN";
    case Rcode::notimp:
      return "NOTIMP";
    case Rcode::refused:
      return "REFUSED";
    case Rcode::badvers:
      return "BADVERS";
  }
  return "OTHER";
}

std::string_view type_name(std::uint16_t qtype) {
  switch (qtype) {
    case kTypeA:
      return "A";
    case kTypeAaaa:
      return "AAAA";
    case kTypeMx:
      return "MX";
    case kTypeSrv:
      return "SRV";
    case kTypeAny:
      return "ANY";
    default:
      return "OTHER";
  }
}

ParseStatus parse_query(std::span<const std::uint8_t> p, Query& q) {
  if (p.size() < kHeaderSize) return ParseStatus::drop;
  q.id = read16(p, 0);
  const std::uint16_t flags = read16(p, 2);
  if (flags & 0x8000) return ParseStatus::drop;  // a response: never answer one
  q.opcode = static_cast<std::uint8_t>((flags >> 11) & 0xF);
  q.rd = (flags & 0x0100) != 0;
  q.cd = (flags & 0x0010) != 0;
  q.edns = false;
  if (q.opcode != 0) return ParseStatus::notimp;
  const std::uint16_t qd = read16(p, 4), an = read16(p, 6), ns = read16(p, 8), ar = read16(p, 10);
  if (qd != 1 || an != 0 || ns != 0 || ar > 1) return ParseStatus::formerr;
  std::size_t pos = read_question_name(p, kHeaderSize, q);
  if (pos == 0 || pos + 4 > p.size()) return ParseStatus::formerr;
  q.qtype = read16(p, pos);
  q.qclass = read16(p, pos + 2);
  pos += 4;
  if (ar == 1) {
    // Only an OPT record (owner: the root) is understood here.
    if (pos + 11 > p.size() || p[pos] != 0) return ParseStatus::formerr;
    if (read16(p, pos + 1) != kTypeOpt) return ParseStatus::formerr;
    const std::uint16_t size = read16(p, pos + 3);
    const std::uint32_t ttl =
        static_cast<std::uint32_t>(read16(p, pos + 5)) << 16 | read16(p, pos + 7);
    const std::uint16_t rdlen = read16(p, pos + 9);
    pos += 11;
    if (pos + rdlen > p.size()) return ParseStatus::formerr;
    // Options (cookies, padding, client subnet) are skipped, but must be whole.
    for (std::size_t o = pos; o < pos + rdlen;) {
      if (o + 4 > pos + rdlen) return ParseStatus::formerr;
      o += 4 + read16(p, o + 2);
      if (o > pos + rdlen) return ParseStatus::formerr;
    }
    pos += rdlen;
    q.edns = true;
    q.edns_udp_size = std::max<std::uint16_t>(size, kPlainUdpLimit);
    q.edns_version = static_cast<std::uint8_t>(ttl >> 16);
    q.dnssec_ok = (ttl & 0x8000) != 0;
  }
  if (pos != p.size()) return ParseStatus::formerr;  // trailing bytes
  if (q.edns && q.edns_version > 0) return ParseStatus::badvers;
  return ParseStatus::ok;
}

std::size_t wire_length(std::string_view dotted) {
  if (dotted.empty()) return 1;
  std::size_t total = 1;
  std::size_t label = 0;
  for (const char c : dotted) {
    if (c == '.') {
      if (label == 0) return 0;
      total += 1 + label;
      label = 0;
    } else if (++label > 63) {
      return 0;
    }
  }
  if (label == 0) return 0;
  total += 1 + label;
  return total <= kMaxName ? total : 0;
}

ResponseWriter::ResponseWriter(std::span<std::uint8_t> out, std::size_t limit)
    : out_(out), limit_(std::min(limit, out.size())) {}

void ResponseWriter::put16(std::uint16_t v) {
  out_[size_++] = static_cast<std::uint8_t>(v >> 8);
  out_[size_++] = static_cast<std::uint8_t>(v);
}

void ResponseWriter::put32(std::uint32_t v) {
  put16(static_cast<std::uint16_t>(v >> 16));
  put16(static_cast<std::uint16_t>(v));
}

void ResponseWriter::begin(const Query& q, Rcode rcode, bool authoritative, bool with_question) {
  reserve_ = q.edns ? 11 : 0;
  size_ = 0;
  answers_ = additional_ = 0;
  truncated_ = false;
  put16(q.id);
  std::uint16_t flags = 0x8000;  // QR
  flags |= static_cast<std::uint16_t>((q.opcode & 0xF) << 11);
  if (authoritative) flags |= 0x0400;
  if (q.rd) flags |= 0x0100;
  if (q.cd) flags |= 0x0010;
  flags |= static_cast<std::uint16_t>(static_cast<std::uint8_t>(rcode) & 0xF);
  put16(flags);
  put16(with_question ? 1 : 0);
  put16(0);
  put16(0);
  put16(0);
  extended_rcode_ = static_cast<std::uint8_t>(static_cast<std::uint8_t>(rcode) >> 4);
  if (with_question) {
    std::memcpy(out_.data() + size_, q.wire_name.data(), q.wire_name_len);
    size_ += q.wire_name_len;
    put16(q.qtype);
    put16(q.qclass);
  }
  question_end_ = size_;
}

void ResponseWriter::truncate() {
  size_ = question_end_;
  answers_ = additional_ = 0;
  truncated_ = true;
}

bool ResponseWriter::begin_rr(bool answer, std::uint16_t owner_offset, std::uint16_t type,
                              std::uint32_t ttl, std::size_t rdata_len) {
  // A compression pointer holds 14 bits (RFC 1035 section 4.1.4): an owner
  // written beyond its reach is repeated in full.
  const bool pointer = owner_offset <= kMaxPointer;
  const std::size_t owner_len = pointer ? 2 : name_length_at(owner_offset);
  if (!fits(owner_len + 10 + rdata_len)) {
    truncate();
    return false;
  }
  if (pointer) {
    put16(static_cast<std::uint16_t>(0xC000 | owner_offset));
  } else {
    std::memcpy(out_.data() + size_, out_.data() + owner_offset, owner_len);
    size_ += owner_len;
  }
  put16(type);
  put16(kClassIn);
  put32(ttl);
  put16(static_cast<std::uint16_t>(rdata_len));
  ++(answer ? answers_ : additional_);
  return true;
}

std::size_t ResponseWriter::name_length_at(std::size_t at) const {
  std::size_t end = at;
  while (out_[end] != 0) end += 1 + out_[end];
  return end + 1 - at;
}

std::uint16_t ResponseWriter::put_name(std::string_view dotted) {
  const auto at = static_cast<std::uint16_t>(size_);
  std::size_t start = 0;
  while (start < dotted.size()) {
    const std::size_t dot = std::min(dotted.find('.', start), dotted.size());
    out_[size_++] = static_cast<std::uint8_t>(dot - start);
    std::memcpy(out_.data() + size_, dotted.data() + start, dot - start);
    size_ += dot - start;
    start = dot + 1;
  }
  out_[size_++] = 0;
  return at;
}

bool ResponseWriter::add_a(std::uint32_t ttl, const std::uint8_t (&ip)[4]) {
  if (!begin_rr(true, kHeaderSize, kTypeA, ttl, 4)) return false;
  std::memcpy(out_.data() + size_, ip, 4);
  size_ += 4;
  return true;
}

bool ResponseWriter::add_aaaa(std::uint32_t ttl, const std::uint8_t (&ip)[16]) {
  if (!begin_rr(true, kHeaderSize, kTypeAaaa, ttl, 16)) return false;
  std::memcpy(out_.data() + size_, ip, 16);
  size_ += 16;
  return true;
}

std::uint16_t ResponseWriter::add_mx(std::uint32_t ttl, std::uint16_t preference,
                                     std::string_view target) {
  const std::size_t name_len = wire_length(target);
  if (name_len == 0 || !begin_rr(true, kHeaderSize, kTypeMx, ttl, 2 + name_len)) return 0;
  put16(preference);
  return put_name(target);
}

std::uint16_t ResponseWriter::add_srv(std::uint32_t ttl, std::uint16_t priority,
                                      std::uint16_t weight, std::uint16_t port,
                                      std::string_view target) {
  const std::size_t name_len = wire_length(target);
  if (name_len == 0 || !begin_rr(true, kHeaderSize, kTypeSrv, ttl, 6 + name_len)) return 0;
  put16(priority);
  put16(weight);
  put16(port);
  return put_name(target);
}

bool ResponseWriter::add_glue_a(std::uint16_t name_offset, std::uint32_t ttl,
                                const std::uint8_t (&ip)[4]) {
  if (!begin_rr(false, name_offset, kTypeA, ttl, 4)) return false;
  std::memcpy(out_.data() + size_, ip, 4);
  size_ += 4;
  return true;
}

bool ResponseWriter::add_glue_aaaa(std::uint16_t name_offset, std::uint32_t ttl,
                                   const std::uint8_t (&ip)[16]) {
  if (!begin_rr(false, name_offset, kTypeAaaa, ttl, 16)) return false;
  std::memcpy(out_.data() + size_, ip, 16);
  size_ += 16;
  return true;
}

std::size_t ResponseWriter::finish(const Query& q) {
  if (q.edns) {
    out_[size_++] = 0;  // the root
    put16(kTypeOpt);
    put16(kEdnsUdpLimit);
    put32(static_cast<std::uint32_t>(extended_rcode_) << 24);  // version 0, no DO
    put16(0);
    ++additional_;
  }
  const std::size_t end = size_;
  size_ = 6;
  put16(answers_);
  put16(0);
  put16(additional_);
  if (truncated_) out_[2] |= 0x02;  // TC
  size_ = end;
  return end;
}

}  // namespace sb::dns::wire
