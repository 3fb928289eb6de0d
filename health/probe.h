#pragma once
// One active health probe of one server: connect, optionally send the PROXY
// header the pool's servers expect, and run the check's short dialogue
// (HAProxy's tcp-check idea), all within spec.timeout. Runs on the
// control-plane io_context.

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "health/check_spec.h"

namespace sb::health {

struct ProbeResult {
  bool ok = false;
  bool timed_out = false;
  // The probe could not run here (no descriptor, memory or source port):
  // no verdict on the server, which keeps its state (result="error").
  bool local_fault = false;
  std::chrono::microseconds latency{0};
  // One line for logs and /status: "250 mx1 Hello", "smtp banner 421 4.3.2
  // busy", "connection refused", "HTTP/1.1 503 Service Unavailable".
  std::string detail;
  // The dialogue as it happened ("S: 220 ...", "C: EHLO ..."): why a server
  // is down, without a packet capture. Grown through note() only, so that a
  // server that talks without end costs a bounded transcript.
  std::vector<std::string> transcript;
  // The notAfter (unix seconds) of the certificate a TLS handshake of this
  // probe saw (STARTTLS, https); 0 when it made none.
  std::int64_t certificate_expiry = 0;

  // Appends `line`, unless the transcript would then pass
  // kMaxTranscriptLines lines or kMaxTranscriptBytes bytes: it then ends with
  // one kTranscriptCut line and takes no more.
  void note(std::string line);
};

// Caps of one probe's transcript, kept for /status (docs/configuration.md,
// "Health checks"): a dialogue is a dozen lines of at most 200 characters.
inline constexpr std::size_t kMaxTranscriptLines = 64;
inline constexpr std::size_t kMaxTranscriptBytes = 8 * 1024;
inline constexpr std::string_view kTranscriptCut =
    "(transcript cut here: more than 64 lines or 8 KiB)";

// The connection an http/https check keeps open from one probe of a server
// to the next (`reuse-connection`, as Envoy's HTTP checks do): a check is
// then one request and one response, without the TCP (and TLS) handshake and
// teardown that cost most of its CPU. Owned by the caller for one server;
// empty until a probe keeps a connection, closed when destroyed.
class KeptConnection {
 public:
  KeptConnection();
  ~KeptConnection();
  KeptConnection(KeptConnection&&) noexcept;
  KeptConnection& operator=(KeptConnection&&) noexcept;

  struct State;  // the probes' own
  std::unique_ptr<State> state;
};

// `kept`: the server's kept connection, used and updated by http/https
// probes (other check types open a connection for every probe).
boost::asio::awaitable<ProbeResult> probe(const CheckSpec& spec, KeptConnection& kept);
// A probe that keeps nothing (one-off checks).
boost::asio::awaitable<ProbeResult> probe(const CheckSpec& spec);

}  // namespace sb::health
