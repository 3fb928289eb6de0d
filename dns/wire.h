#pragma once
// The DNS wire format for the responder (RFC 1035, RFC 6891 EDNS0), reduced
// to what an authoritative server for a few names needs: parse one query
// strictly, and write an answer into a caller's buffer. No allocation: the
// responder parses and answers every query with stack and per-worker
// buffers (docs/architecture.md says why this is ours and not libldns).
//
// Everything here is pure and is fuzzed (fuzz/dns_query_fuzz.cpp).

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace sb::dns::wire {

enum class Rcode : std::uint8_t {
  noerror = 0,
  formerr = 1,
  servfail = 2,
  nxdomain = 3,
  notimp = 4,
  refused = 5,
  badvers = 16,  // extended (RFC 6891): the low 4 bits go in the header
};
std::string_view to_string(Rcode r);

inline constexpr std::uint16_t kTypeA = 1;
inline constexpr std::uint16_t kTypeMx = 15;
inline constexpr std::uint16_t kTypeAaaa = 28;
inline constexpr std::uint16_t kTypeSrv = 33;
inline constexpr std::uint16_t kTypeOpt = 41;
inline constexpr std::uint16_t kTypeAny = 255;
inline constexpr std::uint16_t kClassIn = 1;
// Mnemonic of a query type for metrics: A, AAAA, MX, SRV, ANY, else OTHER.
std::string_view type_name(std::uint16_t qtype);

inline constexpr std::size_t kHeaderSize = 12;
inline constexpr std::size_t kMaxPointer = 0x3FFF;  // the farthest a compression pointer reaches
inline constexpr std::size_t kMaxName = 255;        // wire length, RFC 1035 §2.3.4
inline constexpr std::size_t kPlainUdpLimit = 512;
// What we offer and honour over UDP with EDNS (the DNS flag day 2020 value:
// no fragmentation).
inline constexpr std::uint16_t kEdnsUdpLimit = 1232;

struct Query {
  std::uint16_t id = 0;
  std::uint8_t opcode = 0;
  bool rd = false;
  bool cd = false;
  // The question name as sent (uncompressed wire form, case kept: resolvers
  // that randomise case, "DNS 0x20", expect it back) and in lower-case dotted
  // form without the final dot, for lookups ("" is the root).
  std::array<std::uint8_t, kMaxName> wire_name{};
  std::size_t wire_name_len = 0;
  std::array<char, kMaxName> text{};
  std::size_t text_len = 0;
  std::uint16_t qtype = 0;
  std::uint16_t qclass = 0;
  bool edns = false;
  std::uint8_t edns_version = 0;
  std::uint16_t edns_udp_size = 0;  // as asked (values under 512 count as 512)
  bool dnssec_ok = false;

  std::string_view name() const { return {text.data(), text_len}; }
};

enum class ParseStatus : std::uint8_t {
  ok,
  drop,     // not answerable: shorter than a header, or a response (QR set)
  formerr,  // a query we cannot read: answer FORMERR (the header is valid)
  notimp,   // an opcode other than QUERY: answer NOTIMP
  badvers,  // EDNS version above 0: answer BADVERS (RFC 6891 §6.1.3)
};

// Parses `packet` as one query: exactly one question, no answer or
// authority records, at most one additional record (an OPT). Names may use
// compression pointers, which must point backwards (no loops); labels are at
// most 63 bytes, names at most 255. On formerr/notimp/badvers `q.id`,
// `q.opcode` and `q.rd` are set, for the error answer.
ParseStatus parse_query(std::span<const std::uint8_t> packet, Query& q);

// Writes one response into a buffer. Start with begin(), add records, then
// finish(); if a record does not fit within `limit` the response is cut back
// to the header, the question and the OPT record, with TC set (the client
// asks again over TCP).
class ResponseWriter {
 public:
  // `out` must hold at least `limit` bytes; `limit` at least 512.
  ResponseWriter(std::span<std::uint8_t> out, std::size_t limit);

  // Header and question (the question only when `q` has one: not for a
  // FORMERR to a packet whose question could not be read).
  void begin(const Query& q, Rcode rcode, bool authoritative, bool with_question);

  // Answer-section records owned by the question name (compressed to it).
  bool add_a(std::uint32_t ttl, const std::uint8_t (&ip)[4]);
  bool add_aaaa(std::uint32_t ttl, const std::uint8_t (&ip)[16]);
  // MX / SRV: `target` is a host name in dotted form ("mx1.example.com").
  // Returns the offset where the target name was written (for glue records
  // to point at), or 0 when it did not fit.
  std::uint16_t add_mx(std::uint32_t ttl, std::uint16_t preference, std::string_view target);
  std::uint16_t add_srv(std::uint32_t ttl, std::uint16_t priority, std::uint16_t weight,
                        std::uint16_t port, std::string_view target);
  // Additional-section glue for a name written earlier at `name_offset`:
  // compressed to it, or repeated in full past a pointer's reach (0x3FFF).
  bool add_glue_a(std::uint16_t name_offset, std::uint32_t ttl, const std::uint8_t (&ip)[4]);
  bool add_glue_aaaa(std::uint16_t name_offset, std::uint32_t ttl, const std::uint8_t (&ip)[16]);

  // Appends the OPT record when the query had EDNS, sets the counts, and
  // returns the response's length.
  std::size_t finish(const Query& q);
  bool truncated() const { return truncated_; }

 private:
  bool fits(std::size_t n) const { return !truncated_ && size_ + n <= limit_ - reserve_; }
  void put16(std::uint16_t v);
  void put32(std::uint32_t v);
  bool begin_rr(bool answer, std::uint16_t owner_offset, std::uint16_t type, std::uint32_t ttl,
                std::size_t rdata_len);
  std::uint16_t put_name(std::string_view dotted);  // 0 when it is not a valid name
  // The length of the uncompressed name written at `at`.
  std::size_t name_length_at(std::size_t at) const;
  void truncate();

  std::span<std::uint8_t> out_;
  std::size_t limit_;
  std::size_t reserve_ = 0;  // room kept for the OPT record
  std::size_t size_ = 0;
  std::size_t question_end_ = kHeaderSize;
  std::uint16_t answers_ = 0;
  std::uint16_t additional_ = 0;
  std::uint8_t extended_rcode_ = 0;  // the upper bits (BADVERS), in the OPT record
  bool truncated_ = false;
};

// The dotted name's wire length (labels and the final 0), or 0 when it is
// not a valid name (an empty label, a label over 63, over 255 in all).
std::size_t wire_length(std::string_view dotted);

}  // namespace sb::dns::wire
