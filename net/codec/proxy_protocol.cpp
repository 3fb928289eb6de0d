#include "net/codec/proxy_protocol.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <optional>

namespace sb::net {
namespace {

constexpr std::string_view kV1Prefix = "PROXY ";
constexpr std::string_view kV1Unknown = "UNKNOWN";
constexpr std::string_view kV2Signature{"\r\n\r\n\0\r\nQUIT\n", 12};
constexpr std::size_t kV2FixedSize = 16;

// Byte 12: version (high nibble) and command (low nibble).
constexpr unsigned kV2Version = 0x2;
constexpr unsigned kCommandLocal = 0x0;
constexpr unsigned kCommandProxy = 0x1;
// Byte 13: address family (high nibble) and transport (low nibble).
constexpr unsigned kFamilyUnspec = 0x0;
constexpr unsigned kFamilyInet = 0x1;
constexpr unsigned kFamilyInet6 = 0x2;
constexpr unsigned kFamilyUnix = 0x3;
constexpr unsigned kTransportUnspec = 0x0;
constexpr unsigned kTransportStream = 0x1;
constexpr unsigned kTransportDgram = 0x2;
// Address block sizes: two addresses and, for INET/INET6, two ports.
constexpr std::size_t kInetBlock = 4 + 4 + 2 + 2;
constexpr std::size_t kInet6Block = 16 + 16 + 2 + 2;
constexpr std::size_t kUnixBlock = 108 + 108;
static_assert(kMaxV2 == kV2FixedSize + kUnixBlock);
static_assert(kMaxV2Tlvs == 4096, "the error message names the cap");

constexpr std::string_view kNotProxy = "not a PROXY protocol header";

ParseResult invalid(std::string_view why) {
  return {ParseStatus::invalid, 0, {}, why};
}
ParseResult need_more() {
  return {ParseStatus::need_more, 0, {}, {}};
}
ParseResult done(std::size_t consumed, const ProxyAddresses& addresses) {
  return {ParseStatus::done, consumed, addresses, {}};
}

// True when the first min(data.size(), expected.size()) bytes agree, i.e. the
// data so far could still turn into `expected`.
bool prefix_matches(std::span<const char> data, std::string_view expected) {
  const std::size_t n = std::min(data.size(), expected.size());
  return std::equal(data.begin(), data.begin() + static_cast<std::ptrdiff_t>(n), expected.begin());
}

// ---- Family reconciliation (shared by both encoders) -----------------------

IpAddress mapped(const IpAddress& addr) {
  if (addr.v6) return addr;
  IpAddress result;
  result.v6 = true;
  result.bytes[10] = 0xff;
  result.bytes[11] = 0xff;
  std::copy_n(addr.bytes.begin(), 4, result.bytes.begin() + 12);
  return result;
}

struct Endpoints {
  IpAddress src, dst;
};

// Both PROXY versions carry one family for both ends. A dual-stack listener
// may report the client as ::ffff:a.b.c.d while the backend is plain IPv4:
// unmapping keeps the header in IPv4 (what the backend's own logs would show).
// Only a real IPv6 on one side forces IPv6, with the IPv4 side mapped.
Endpoints reconcile(const ProxyAddresses& addresses) {
  if (addresses.src.v6 == addresses.dst.v6) return {addresses.src, addresses.dst};
  const IpAddress src = addresses.src.unmapped();
  const IpAddress dst = addresses.dst.unmapped();
  if (!src.v6 && !dst.v6) return {src, dst};
  return {mapped(addresses.src), mapped(addresses.dst)};
}

// ---- v1 ---------------------------------------------------------------------

// A bounded appender over a stack buffer; the callers' worst case is checked
// against kMaxV1 below so the bounds check only guards against future edits.
class LineWriter {
 public:
  void append(std::string_view text) {
    const std::size_t n = std::min(text.size(), buffer_.size() - size_);
    std::memcpy(buffer_.data() + size_, text.data(), n);
    size_ += n;
  }
  void append_address(const IpAddress& addr) {
    char text[INET6_ADDRSTRLEN];
    inet_ntop(addr.v6 ? AF_INET6 : AF_INET, addr.bytes.data(), text, sizeof(text));
    append(text);
  }
  void append_port(std::uint16_t port) {
    char text[5];
    const auto [end, ec] = std::to_chars(text, text + sizeof(text), port);
    append(std::string_view(text, static_cast<std::size_t>(end - text)));
  }
  std::string_view view() const { return {buffer_.data(), size_}; }

 private:
  std::array<char, kMaxV1> buffer_{};
  std::size_t size_ = 0;
};
// "PROXY TCP6 " + 2 * 39 (longest IPv6 text inet_ntop produces for these
// addresses) + 3 spaces + 2 * 5 port digits + CRLF.
static_assert(11 + 2 * 39 + 3 + 2 * 5 + 2 <= kMaxV1);

// Ports are strict: decimal, 1..5 digits, no leading zero except "0" itself,
// at most 65535. The spec is silent on leading zeros; refusing them keeps one
// spelling per value, so a header cannot be made to mean different things to
// different parsers.
std::optional<std::uint16_t> parse_port(std::string_view text) {
  if (text.empty() || text.size() > 5) return std::nullopt;
  if (text.size() > 1 && text.front() == '0') return std::nullopt;
  std::uint32_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<std::uint32_t>(c - '0');
  }
  if (value > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(value);
}

// `body` is the line between "PROXY " and CRLF; `length` the whole line.
ParseResult parse_v1_line(std::string_view body, std::size_t length) {
  // Spec 2.1: after UNKNOWN the receiver must ignore the rest of the line.
  if (body == kV1Unknown || (body.starts_with(kV1Unknown) && body[kV1Unknown.size()] == ' ')) {
    ProxyAddresses local;
    local.local = true;
    return done(length, local);
  }

  // Exactly "PROTO SRC DST SPORT DPORT", single spaces, nothing else.
  std::array<std::string_view, 5> fields;
  std::size_t count = 0;
  std::size_t start = 0;
  while (true) {
    const std::size_t space = body.find(' ', start);
    const std::string_view field = body.substr(start, space - start);
    if (field.empty()) return invalid("v1 fields must be separated by exactly one space");
    if (count == fields.size()) return invalid("v1 line has too many fields");
    fields[count++] = field;
    if (space == std::string_view::npos) break;
    start = space + 1;
  }
  if (count != fields.size()) return invalid("v1 line has too few fields");

  bool v6 = false;
  if (fields[0] == "TCP6") {
    v6 = true;
  } else if (fields[0] != "TCP4") {
    return invalid("v1 protocol is not TCP4, TCP6 or UNKNOWN");
  }

  ProxyAddresses result;
  const auto src = IpAddress::parse(fields[1]);
  if (!src || src->v6 != v6) return invalid("v1 source address is not valid for the protocol");
  const auto dst = IpAddress::parse(fields[2]);
  if (!dst || dst->v6 != v6) return invalid("v1 destination address is not valid for the protocol");
  const auto src_port = parse_port(fields[3]);
  if (!src_port) return invalid("v1 source port is not a number in 0..65535");
  const auto dst_port = parse_port(fields[4]);
  if (!dst_port) return invalid("v1 destination port is not a number in 0..65535");

  result.src = *src;
  result.dst = *dst;
  result.src_port = *src_port;
  result.dst_port = *dst_port;
  return done(length, result);
}

ParseResult parse_v1(std::span<const char> data) {
  if (!prefix_matches(data, kV1Prefix)) return invalid(kNotProxy);
  if (data.size() < kV1Prefix.size()) return need_more();

  // Look for CRLF within the first kMaxV1 bytes. A lone CR or LF can never
  // become valid, so it is rejected as soon as it is seen.
  const std::size_t limit = std::min(data.size(), kMaxV1);
  for (std::size_t i = kV1Prefix.size(); i < limit; ++i) {
    if (data[i] == '\n') return invalid("v1 line has a LF without CR");
    if (data[i] != '\r') continue;
    if (i + 2 > kMaxV1) return invalid("v1 line is longer than 107 bytes");
    if (i + 1 == data.size()) return need_more();
    if (data[i + 1] != '\n') return invalid("v1 line has a CR without LF");
    const std::string_view body(data.data() + kV1Prefix.size(), i - kV1Prefix.size());
    return parse_v1_line(body, i + 2);
  }
  if (data.size() >= kMaxV1) return invalid("v1 line is longer than 107 bytes");
  return need_more();
}

// ---- v2 ---------------------------------------------------------------------

std::uint8_t byte_at(std::span<const char> data, std::size_t i) {
  return static_cast<std::uint8_t>(data[i]);
}

std::uint16_t read_u16(std::span<const char> data, std::size_t i) {
  return static_cast<std::uint16_t>((byte_at(data, i) << 8) | byte_at(data, i + 1));
}

void write_u16(std::uint8_t* out, std::uint16_t value) {
  out[0] = static_cast<std::uint8_t>(value >> 8);
  out[1] = static_cast<std::uint8_t>(value & 0xff);
}

ParseResult parse_v2(std::span<const char> data) {
  if (!prefix_matches(data, kV2Signature)) return invalid(kNotProxy);

  // Validate each fixed byte as soon as it arrives, so a bad header is refused
  // without waiting for the length field or the body.
  if (data.size() <= 12) return need_more();
  const unsigned version = byte_at(data, 12) >> 4;
  const unsigned command = byte_at(data, 12) & 0x0f;
  if (version != kV2Version) return invalid("v2 version is not 2");
  if (command != kCommandLocal && command != kCommandProxy) {
    return invalid("v2 command is neither LOCAL nor PROXY");
  }

  // For LOCAL the spec says the family byte is ignored; only PROXY checks it.
  unsigned family = kFamilyUnspec;
  unsigned transport = kTransportUnspec;
  if (data.size() <= 13) return need_more();
  if (command == kCommandProxy) {
    family = byte_at(data, 13) >> 4;
    transport = byte_at(data, 13) & 0x0f;
    if (family > kFamilyUnix) return invalid("v2 address family is unknown");
    if (transport > kTransportDgram) return invalid("v2 transport protocol is unknown");
  }

  if (data.size() < kV2FixedSize) return need_more();
  const std::size_t length = read_u16(data, 14);

  // An UNSPEC family or transport means "addresses unknown"; the spec says to
  // ignore the block then, so its size is not checked.
  const bool has_addresses =
      command == kCommandProxy && family != kFamilyUnspec && transport != kTransportUnspec;
  std::size_t needed = 0;
  if (has_addresses) {
    needed = family == kFamilyInet ? kInetBlock : family == kFamilyInet6 ? kInet6Block : kUnixBlock;
  }
  if (length < needed) return invalid("v2 address block is shorter than its family needs");
  // What follows the address block is TLVs, capped to bound the caller's
  // buffer. Without usable addresses the block's size is unknown: the
  // largest one is allowed for.
  const std::size_t block_size = has_addresses ? needed : kUnixBlock;
  if (length > block_size + kMaxV2Tlvs) return invalid("v2 TLVs are longer than 4096 bytes");

  const std::size_t total = kV2FixedSize + length;
  if (data.size() < total) return need_more();

  ProxyAddresses result;
  // AF_UNIX paths mean nothing to a TCP backend: treat like LOCAL.
  if (!has_addresses || family == kFamilyUnix) {
    result.local = true;
    return done(total, result);
  }

  const std::size_t addr_size = family == kFamilyInet ? 4 : 16;
  const char* block = data.data() + kV2FixedSize;
  result.src.v6 = result.dst.v6 = family == kFamilyInet6;
  std::memcpy(result.src.bytes.data(), block, addr_size);
  std::memcpy(result.dst.bytes.data(), block + addr_size, addr_size);
  result.src_port = read_u16(data, kV2FixedSize + 2 * addr_size);
  result.dst_port = read_u16(data, kV2FixedSize + 2 * addr_size + 2);
  // Anything after the addresses is TLVs (or padding); `total` skips them.
  return done(total, result);
}

}  // namespace

std::size_t encode_v1(const ProxyAddresses& addresses, std::span<char> out) {
  LineWriter line;
  if (addresses.local) {
    line.append("PROXY UNKNOWN\r\n");
  } else {
    const Endpoints ends = reconcile(addresses);
    line.append(ends.src.v6 ? "PROXY TCP6 " : "PROXY TCP4 ");
    line.append_address(ends.src);
    line.append(" ");
    line.append_address(ends.dst);
    line.append(" ");
    line.append_port(addresses.src_port);
    line.append(" ");
    line.append_port(addresses.dst_port);
    line.append("\r\n");
  }
  const std::string_view text = line.view();
  if (out.size() < text.size()) return 0;
  std::memcpy(out.data(), text.data(), text.size());
  return text.size();
}

std::size_t encode_v2(const ProxyAddresses& addresses, std::span<char> out) {
  std::array<std::uint8_t, kV2FixedSize + kInet6Block> header{};
  std::memcpy(header.data(), kV2Signature.data(), kV2Signature.size());

  std::size_t block = 0;
  if (addresses.local) {
    header[12] = (kV2Version << 4) | kCommandLocal;
    header[13] = (kFamilyUnspec << 4) | kTransportUnspec;
  } else {
    const Endpoints ends = reconcile(addresses);
    const std::size_t addr_size = ends.src.v6 ? 16 : 4;
    block = ends.src.v6 ? kInet6Block : kInetBlock;
    header[12] = (kV2Version << 4) | kCommandProxy;
    header[13] = ((ends.src.v6 ? kFamilyInet6 : kFamilyInet) << 4) | kTransportStream;
    std::uint8_t* p = header.data() + kV2FixedSize;
    std::memcpy(p, ends.src.bytes.data(), addr_size);
    std::memcpy(p + addr_size, ends.dst.bytes.data(), addr_size);
    write_u16(p + 2 * addr_size, addresses.src_port);
    write_u16(p + 2 * addr_size + 2, addresses.dst_port);
  }
  write_u16(header.data() + 14, static_cast<std::uint16_t>(block));

  const std::size_t total = kV2FixedSize + block;
  if (out.size() < total) return 0;
  std::memcpy(out.data(), header.data(), total);
  return total;
}

ParseResult parse_proxy_header(std::span<const char> data) {
  if (data.empty()) return need_more();
  // The two signatures differ in their first byte, so one byte picks the
  // version, and anything else is refused immediately.
  if (data[0] == kV1Prefix[0]) return parse_v1(data);
  if (data[0] == kV2Signature[0]) return parse_v2(data);
  return invalid(kNotProxy);
}

}  // namespace sb::net
