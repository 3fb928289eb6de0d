#pragma once
// What an HTTP/2 client can run into (docs/configuration.md, "HTTP/2"):
// switchboard_http2_limit_hits_total's `limit` label, in the metrics
// module's order (metrics::kHttp2Limits).

#include <cstdint>

namespace sb::runtime {

enum class H2Limit : std::uint8_t {
  concurrent_streams,  // a stream over max-concurrent-streams, refused
  resets,              // RST_STREAM faster than max-resets-per-second: GOAWAY
  continuation,        // a header block in too many CONTINUATION frames
  settings_flood,      // SETTINGS faster than the proxy should answer them
  ping_flood,          // PING likewise
  header_size,         // a header list over max-header-size: 431
  idle_timeout,        // no stream for request-timeout: GOAWAY and close
  protocol,            // a connection error in the client's frames
};

}  // namespace sb::runtime
