#include "dns/records.h"

#include <ares.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>

#include <strings.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <memory>
#include <string_view>

namespace sb::dns {

std::string AddressRecord::to_string() const {
  return ip.to_string();
}

namespace {

std::uint16_t u16(const unsigned char* p) {
  return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}
std::uint32_t u32(const unsigned char* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         p[3];
}

// Whether c-ares' presentation of a name (RFC 1035 master-file escapes,
// "\." and "\DDD"; "" for the root) is a name of RFC 1035's size: labels of
// 1..63 bytes, at most 255 in all. c-ares 1.18 follows up to 50 pointers, so
// a message can make every name some 3 KiB long, and it shows a label of one
// NUL byte as the end of the name ("x." for x.\000.y): an empty label.
bool rfc1035_sized(std::string_view text) {
  if (text.empty()) return true;
  std::size_t total = 1;
  std::size_t label = 0;
  for (std::size_t i = 0; i <= text.size(); ++i) {
    if (i == text.size() || text[i] == '.') {
      if (label == 0 || label > 63) return false;
      total += 1 + label;
      label = 0;
      continue;
    }
    if (text[i] == '\\') {
      const bool decimal =
          i + 1 < text.size() && std::isdigit(static_cast<unsigned char>(text[i + 1]));
      i = std::min(i + (decimal ? 3 : 1), text.size() - 1);
    }
    ++label;
  }
  return total <= 255;
}

// Reads a (possibly compressed) name at `at`: the name and its encoded
// length, or false. ares_expand_name bounds-checks and refuses loops.
bool read_name(const unsigned char* msg, int length, const unsigned char* at, std::string& name,
               long& encoded) {
  char* expanded = nullptr;
  if (ares_expand_name(at, msg, length, &expanded, &encoded) != ARES_SUCCESS) return false;
  name = expanded;
  ares_free_string(expanded);
  return rfc1035_sized(name);
}

enum class Section { answer, authority, additional };

// Walks every record after the question, handing (section, owner, type,
// rdata, rdlength, ttl) to `take`; false when the message is malformed or
// `take` refuses.
template <class Take>
bool walk_records(const unsigned char* msg, int length, Take take) {
  if (length < HFIXEDSZ) return false;
  const int questions = u16(msg + 4);
  const int counts[3] = {u16(msg + 6), u16(msg + 8), u16(msg + 10)};
  const unsigned char* p = msg + HFIXEDSZ;
  const unsigned char* end = msg + length;
  std::string name;
  long encoded = 0;
  for (int i = 0; i < questions; ++i) {
    if (!read_name(msg, length, p, name, encoded) || end - p < encoded + QFIXEDSZ) return false;
    p += encoded + QFIXEDSZ;
  }
  for (int section = 0; section < 3; ++section) {
    for (int i = 0; i < counts[section]; ++i) {
      if (!read_name(msg, length, p, name, encoded) || end - p < encoded + RRFIXEDSZ) {
        return false;
      }
      p += encoded;
      const int rr_type = u16(p);
      const auto ttl = std::chrono::seconds(u32(p + 4) & 0x7fffffff);
      const int rdlength = u16(p + 8);
      p += RRFIXEDSZ;
      if (end - p < rdlength) return false;
      if (!take(static_cast<Section>(section), name, rr_type, p, rdlength, ttl)) return false;
      p += rdlength;
    }
  }
  return true;
}

// The answer section's records of `type`.
template <class Take>
bool walk_answers(const unsigned char* msg, int length, int type, Take take) {
  return walk_records(msg, length,
                      [&](Section section, const std::string&, int rr_type,
                          const unsigned char* rdata, int rdlength, std::chrono::seconds ttl) {
                        if (section != Section::answer || rr_type != type) return true;
                        return take(rdata, rdlength, ttl);
                      });
}

bool same_name(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

std::optional<std::vector<SrvRecord>> parse_srv_answer(const unsigned char* msg, int length) {
  std::vector<SrvRecord> out;
  const bool ok = walk_answers(
      msg, length, T_SRV, [&](const unsigned char* rdata, int rdlength, std::chrono::seconds ttl) {
        if (rdlength < 7) return false;
        SrvRecord r;
        r.priority = u16(rdata);
        r.weight = u16(rdata + 2);
        r.port = u16(rdata + 4);
        r.ttl = ttl;
        long encoded = 0;
        if (!read_name(msg, length, rdata + 6, r.target, encoded)) return false;
        out.push_back(std::move(r));
        return true;
      });
  if (!ok) return std::nullopt;
  return out;
}

std::optional<std::vector<MxRecord>> parse_mx_answer(const unsigned char* msg, int length) {
  std::vector<MxRecord> out;
  const bool ok = walk_answers(
      msg, length, T_MX, [&](const unsigned char* rdata, int rdlength, std::chrono::seconds ttl) {
        if (rdlength < 3) return false;
        MxRecord r;
        r.preference = u16(rdata);
        r.ttl = ttl;
        long encoded = 0;
        if (!read_name(msg, length, rdata + 2, r.host, encoded)) return false;
        out.push_back(std::move(r));
        return true;
      });
  if (!ok) return std::nullopt;
  // Glue: A/AAAA records of the hosts in the additional section.
  walk_records(msg, length,
               [&](Section section, const std::string& owner, int type, const unsigned char* rdata,
                   int rdlength, std::chrono::seconds ttl) {
                 if (section != Section::additional) return true;
                 if (!((type == T_A && rdlength == 4) || (type == T_AAAA && rdlength == 16))) {
                   return true;
                 }
                 for (auto& mx : out) {
                   if (!same_name(mx.host, owner)) continue;
                   AddressRecord a;
                   a.ip.v6 = type == T_AAAA;
                   std::memcpy(a.ip.bytes.data(), rdata, static_cast<std::size_t>(rdlength));
                   a.ttl = ttl;
                   mx.glue.push_back(a);
                 }
                 return true;
               });
  return out;
}

}  // namespace sb::dns
