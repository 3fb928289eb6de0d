// libFuzzer target for the PROXY protocol decoder (net/codec/proxy_protocol.h).
//
// Properties checked on every input, beyond "no crash, no sanitizer report":
//  1. A `done` result consumes between 1 and size bytes, and the header alone
//     (payload cut off) parses to the same result: the decoder never reads
//     past the header it reports.
//  2. Every strict prefix of that header is need_more (never invalid, never an
//     early done), so a socket reader fed byte by byte behaves the same.
//  3. The decoded addresses re-encode with both encode_v1 and encode_v2 and
//     parse back to exactly the same ProxyAddresses.
//  4. need_more never claims bytes, invalid always names a reason.
//  5. A done header is at most kMaxV1 (v1) or kMaxV2Received (v2) bytes, and
//     need_more is never answered once that much has arrived: a reader's
//     buffer of that size is always enough.
// A violated property aborts, which libFuzzer reports as a crash with the input.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>

#include "net/codec/proxy_protocol.h"

namespace {

using sb::net::ParseResult;
using sb::net::ParseStatus;
using sb::net::ProxyAddresses;

void check(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "property violated: %s\n", what);
    std::abort();
  }
}

// Re-parses an encoder's output: it must be exactly one header equal to `expected`.
void check_reparse(std::span<const char> encoded, const ProxyAddresses& expected,
                   const char* version) {
  check(!encoded.empty(), version);
  const ParseResult again = sb::net::parse_proxy_header(encoded);
  check(again.status == ParseStatus::done, version);
  check(again.consumed == encoded.size(), version);
  check(again.addresses == expected, version);
}

// Quadratic, so only for headers up to this size; v2 headers can reach 4 KiB.
constexpr std::size_t kMaxPrefixCheck = 512;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const char> input(reinterpret_cast<const char*>(data), size);
  const ParseResult result = sb::net::parse_proxy_header(input);

  switch (result.status) {
    case ParseStatus::need_more:
      check(result.consumed == 0, "need_more consumed bytes");
      check(size < sb::net::kMaxV2Received, "need_more past the longest header");
      return 0;
    case ParseStatus::invalid:
      check(result.consumed == 0, "invalid consumed bytes");
      check(!result.error.empty(), "invalid without a reason");
      return 0;
    case ParseStatus::done:
      break;
  }

  check(result.consumed > 0 && result.consumed <= size, "done consumed out of range");
  check(result.error.empty(), "done with an error");
  check(result.consumed <= (data[0] == 'P' ? sb::net::kMaxV1 : sb::net::kMaxV2Received),
        "header longer than its version's cap");

  const auto header = input.first(result.consumed);
  const ParseResult alone = sb::net::parse_proxy_header(header);
  check(alone.status == ParseStatus::done && alone.consumed == result.consumed &&
            alone.addresses == result.addresses,
        "header without payload parses differently");

  if (header.size() <= kMaxPrefixCheck) {
    for (std::size_t n = 0; n < header.size(); ++n) {
      const ParseResult partial = sb::net::parse_proxy_header(header.first(n));
      check(partial.status == ParseStatus::need_more,
            "a prefix of a valid header is not need_more");
    }
  }

  char v1[sb::net::kMaxV1];
  const std::size_t v1_size = sb::net::encode_v1(result.addresses, v1);
  check_reparse(std::span<const char>(v1, v1_size), result.addresses, "v1 round trip");

  char v2[sb::net::kMaxV2];
  const std::size_t v2_size = sb::net::encode_v2(result.addresses, v2);
  check_reparse(std::span<const char>(v2, v2_size), result.addresses, "v2 round trip");
  return 0;
}
