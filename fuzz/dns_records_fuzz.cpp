// libFuzzer target for the parsers of DNS discovery answers (dns/records.h):
// parse_srv_answer and parse_mx_answer, fed what a DNS server, or whoever
// answers in its place, sends the resolver. The input is one DNS message.
//
// Properties checked on every input, beyond "no crash, no sanitizer report":
//  1. Bounded: at most ANCOUNT records, each name a valid DNS name (at most
//     255 bytes in wire form, labels at most 63), TTLs within 2^31 - 1, glue
//     addresses of 4 or 16 bytes, at most ARCOUNT glue records per host.
//  2. Only the message counts: an accepted message parses the same with
//     bytes appended.
//  3. Compression is transparent: the records written back by an independent
//     encoder, without compression, parse back equal.
// A violated property aborts, which libFuzzer reports as a crash with the input.

#include <strings.h>

#include <cctype>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dns/records.h"

namespace {

using Bytes = std::vector<unsigned char>;

void check(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "property violated: %s\n", what);
    std::abort();
  }
}

std::uint16_t u16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>(p[0] << 8 | p[1]);
}

void put16(Bytes& b, unsigned v) {
  b.push_back(static_cast<unsigned char>(v >> 8));
  b.push_back(static_cast<unsigned char>(v));
}

void put32(Bytes& b, std::uint32_t v) {
  put16(b, v >> 16);
  put16(b, v & 0xffff);
}

// A name as c-ares presents it ("a\.b.c", "\001x": RFC 1035 master file
// escapes; "" for the root) back in wire form; nullopt when it is no valid
// name. Written here from the RFC, not from the code under test.
std::optional<Bytes> wire_name(std::string_view text) {
  Bytes out;
  Bytes label;
  const auto end_label = [&] {
    if (label.empty() || label.size() > 63) return false;
    out.push_back(static_cast<unsigned char>(label.size()));
    out.insert(out.end(), label.begin(), label.end());
    label.clear();
    return true;
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '.') {
      if (!end_label()) return std::nullopt;
    } else if (c != '\\') {
      label.push_back(static_cast<unsigned char>(c));
    } else if (i + 3 < text.size() && std::isdigit(static_cast<unsigned char>(text[i + 1])) &&
               std::isdigit(static_cast<unsigned char>(text[i + 2])) &&
               std::isdigit(static_cast<unsigned char>(text[i + 3]))) {
      const int v = (text[i + 1] - '0') * 100 + (text[i + 2] - '0') * 10 + (text[i + 3] - '0');
      if (v > 255) return std::nullopt;
      label.push_back(static_cast<unsigned char>(v));
      i += 3;
    } else if (i + 1 < text.size()) {
      label.push_back(static_cast<unsigned char>(text[++i]));
    } else {
      return std::nullopt;
    }
  }
  if (!text.empty() && !end_label()) return std::nullopt;
  out.push_back(0);
  if (out.size() > 255) return std::nullopt;
  return out;
}

void put_rr(Bytes& b, const Bytes& owner, int type, std::chrono::seconds ttl, const Bytes& rdata) {
  b.insert(b.end(), owner.begin(), owner.end());
  put16(b, static_cast<unsigned>(type));
  put16(b, 1);
  put32(b, static_cast<std::uint32_t>(ttl.count()));
  put16(b, static_cast<unsigned>(rdata.size()));
  b.insert(b.end(), rdata.begin(), rdata.end());
}

Bytes header(std::size_t answers, std::size_t additional) {
  Bytes b = {0x12, 0x34, 0x81, 0x80, 0, 0};
  put16(b, static_cast<unsigned>(answers));
  put16(b, 0);
  put16(b, static_cast<unsigned>(additional));
  return b;
}

bool same(const sb::dns::SrvRecord& a, const sb::dns::SrvRecord& b) {
  return a.target == b.target && a.priority == b.priority && a.weight == b.weight &&
         a.port == b.port && a.ttl == b.ttl;
}

bool same(const sb::dns::MxRecord& a, const sb::dns::MxRecord& b) {
  if (a.host != b.host || a.preference != b.preference || a.ttl != b.ttl) return false;
  if (a.glue.size() != b.glue.size()) return false;
  for (std::size_t i = 0; i < a.glue.size(); ++i) {
    if (!(a.glue[i] == b.glue[i]) || a.glue[i].ttl != b.glue[i].ttl) return false;
  }
  return true;
}

template <class Record>
bool same(const std::vector<Record>& a, const std::vector<Record>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (!same(a[i], b[i])) return false;
  }
  return true;
}

// As DNS compares names (RFC 4343): ASCII letters in any case.
bool same_host(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

void check_srv(const Bytes& msg, const std::vector<sb::dns::SrvRecord>& records) {
  const std::size_t ancount = u16(msg.data() + 6);
  check(records.size() <= ancount, "at most ANCOUNT SRV records");
  Bytes again = header(records.size(), 0);
  for (const auto& r : records) {
    check(r.ttl.count() >= 0 && r.ttl.count() <= 0x7fffffff, "SRV TTL within 2^31 - 1");
    const auto target = wire_name(r.target);
    check(target.has_value(), "an SRV target is a valid name");
    Bytes rdata;
    put16(rdata, r.priority);
    put16(rdata, r.weight);
    put16(rdata, r.port);
    rdata.insert(rdata.end(), target->begin(), target->end());
    put_rr(again, {0}, 33, r.ttl, rdata);
  }
  const auto back = sb::dns::parse_srv_answer(again.data(), static_cast<int>(again.size()));
  check(back && same(*back, records), "SRV records written back uncompressed parse equal");
}

void check_mx(const Bytes& msg, const std::vector<sb::dns::MxRecord>& records) {
  const std::size_t ancount = u16(msg.data() + 6);
  const std::size_t arcount = u16(msg.data() + 10);
  check(records.size() <= ancount, "at most ANCOUNT MX records");
  Bytes answers;
  Bytes glue;
  std::size_t glue_count = 0;
  for (std::size_t i = 0; i < records.size(); ++i) {
    const auto& r = records[i];
    check(r.ttl.count() >= 0 && r.ttl.count() <= 0x7fffffff, "MX TTL within 2^31 - 1");
    check(r.glue.size() <= arcount, "at most ARCOUNT glue records per host");
    const auto host = wire_name(r.host);
    check(host.has_value(), "an MX host is a valid name");
    Bytes rdata;
    put16(rdata, r.preference);
    rdata.insert(rdata.end(), host->begin(), host->end());
    put_rr(answers, {0}, 15, r.ttl, rdata);
    // Glue attaches to every MX of the same host: write it once per host.
    bool first = true;
    for (std::size_t j = 0; j < i; ++j) first &= !same_host(records[j].host, r.host);
    for (const auto& a : r.glue) {
      check(a.ttl.count() >= 0 && a.ttl.count() <= 0x7fffffff, "glue TTL within 2^31 - 1");
      if (!first) continue;
      const std::size_t n = a.ip.v6 ? 16 : 4;
      put_rr(glue, *host, a.ip.v6 ? 28 : 1, a.ttl,
             Bytes(a.ip.bytes.begin(), a.ip.bytes.begin() + n));
      ++glue_count;
    }
  }
  if (glue_count > 0xffff) return;  // more than a message can count
  Bytes again = header(records.size(), glue_count);
  again.insert(again.end(), answers.begin(), answers.end());
  again.insert(again.end(), glue.begin(), glue.end());
  const auto back = sb::dns::parse_mx_answer(again.data(), static_cast<int>(again.size()));
  check(back && same(*back, records), "MX records written back uncompressed parse equal");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 65535) return 0;  // no DNS message is longer
  const Bytes msg(data, data + size);
  const int length = static_cast<int>(size);
  Bytes longer = msg;
  longer.insert(longer.end(), {0xc0, 0x0c, 0, 0, 0, 1, 0xff});

  const auto srv = sb::dns::parse_srv_answer(msg.data(), length);
  if (srv) {
    check_srv(msg, *srv);
    const auto again = sb::dns::parse_srv_answer(longer.data(), static_cast<int>(longer.size()));
    check(again && same(*again, *srv), "SRV: bytes after the message change nothing");
  }
  const auto mx = sb::dns::parse_mx_answer(msg.data(), length);
  if (mx) {
    check_mx(msg, *mx);
    const auto again = sb::dns::parse_mx_answer(longer.data(), static_cast<int>(longer.size()));
    check(again && same(*again, *mx), "MX: bytes after the message change nothing");
  }
  return 0;
}
