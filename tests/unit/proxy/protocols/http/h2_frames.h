#pragma once
// HTTP/2 frames by hand for the codec's tests and fuzz seeds: what a
// hostile client sends (floods, resets, bad frames), which a well-behaved
// HTTP/2 library will not produce. Header blocks are HPACK-encoded with
// nghttp2's deflater.

#include <nghttp2/nghttp2.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sb::test::h2 {

inline constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

enum : std::uint8_t {
  kData = 0,
  kHeaders = 1,
  kRstStream = 3,
  kSettings = 4,
  kPing = 6,
  kGoaway = 7,
  kWindowUpdate = 8,
  kContinuation = 9,
};
enum : std::uint8_t { kEndStream = 1, kAck = 1, kEndHeaders = 4 };

inline void put32(std::string& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((v >> shift) & 0xff);
}

inline std::string frame(std::uint8_t type, std::uint8_t flags, std::uint32_t stream,
                         std::string_view payload = {}) {
  std::string out;
  const auto n = static_cast<std::uint32_t>(payload.size());
  out += static_cast<char>((n >> 16) & 0xff);
  out += static_cast<char>((n >> 8) & 0xff);
  out += static_cast<char>(n & 0xff);
  out += static_cast<char>(type);
  out += static_cast<char>(flags);
  put32(out, stream & 0x7fffffff);
  out.append(payload);
  return out;
}

// The client's opening: the preface and an empty SETTINGS.
inline std::string client_start() {
  return std::string(kPreface) + frame(kSettings, 0, 0);
}

using Fields = std::vector<std::pair<std::string, std::string>>;

// A header block (HPACK, a fresh table each time: every field literal).
inline std::string hpack(const Fields& fields) {
  std::vector<nghttp2_nv> nv;
  for (const auto& [name, value] : fields) {
    nv.push_back({reinterpret_cast<std::uint8_t*>(const_cast<char*>(name.data())),
                  reinterpret_cast<std::uint8_t*>(const_cast<char*>(value.data())), name.size(),
                  value.size(), NGHTTP2_NV_FLAG_NONE});
  }
  nghttp2_hd_deflater* deflater = nullptr;
  if (nghttp2_hd_deflate_new(&deflater, 4096) != 0) return {};
  std::string out(nghttp2_hd_deflate_bound(deflater, nv.data(), nv.size()), '\0');
  const auto n = nghttp2_hd_deflate_hd(deflater, reinterpret_cast<std::uint8_t*>(out.data()),
                                       out.size(), nv.data(), nv.size());
  nghttp2_hd_deflate_del(deflater);
  out.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
  return out;
}

inline Fields get(std::string path = "/") {
  return {{":method", "GET"},
          {":scheme", "https"},
          {":authority", "mail.example.com"},
          {":path", std::move(path)}};
}

inline std::string headers(std::uint32_t stream, const Fields& fields, bool end_stream = true) {
  return frame(kHeaders, kEndHeaders | (end_stream ? kEndStream : 0), stream, hpack(fields));
}

inline std::string rst_stream(std::uint32_t stream, std::uint32_t code) {
  std::string payload;
  put32(payload, code);
  return frame(kRstStream, 0, stream, payload);
}

inline std::string ping() {
  return frame(kPing, 0, 0, std::string(8, 'p'));
}

// A frame the server sent, parsed back.
struct Frame {
  std::uint8_t type = 0;
  std::uint8_t flags = 0;
  std::uint32_t stream = 0;
  std::string payload;

  std::uint32_t word(std::size_t at) const {
    std::uint32_t v = 0;
    for (std::size_t i = 0; i < 4; ++i) {
      v = (v << 8) | static_cast<unsigned char>(payload.at(at + i));
    }
    return v;
  }
  // GOAWAY's error code, RST_STREAM's.
  std::uint32_t error_code() const { return type == kGoaway ? word(4) : word(0); }
};

// Splits the server's bytes into frames (whole ones; a partial tail is
// left out).
inline std::vector<Frame> parse(std::string_view bytes) {
  std::vector<Frame> out;
  while (bytes.size() >= 9) {
    const auto b = [&](std::size_t i) { return static_cast<unsigned char>(bytes[i]); };
    const std::size_t n = (std::size_t{b(0)} << 16) | (std::size_t{b(1)} << 8) | b(2);
    if (bytes.size() < 9 + n) break;
    Frame f;
    f.type = b(3);
    f.flags = b(4);
    f.stream = ((std::uint32_t{b(5)} << 24) | (std::uint32_t{b(6)} << 16) |
                (std::uint32_t{b(7)} << 8) | b(8)) &
               0x7fffffff;
    f.payload.assign(bytes.substr(9, n));
    out.push_back(std::move(f));
    bytes.remove_prefix(9 + n);
  }
  return out;
}

}  // namespace sb::test::h2
