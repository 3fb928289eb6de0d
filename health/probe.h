#pragma once
// One active health probe of one server: connect, optionally send the PROXY
// header the pool's servers expect, and run the check's short dialogue
// (HAProxy's tcp-check idea), all within spec.timeout. No state between
// probes. Runs on the control-plane io_context.

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <string>
#include <vector>

#include "health/check_spec.h"

namespace sb::health {

struct ProbeResult {
  bool ok = false;
  bool timed_out = false;
  std::chrono::microseconds latency{0};
  // One line for logs and /status: "250 mx1 Hello", "smtp banner 421 4.3.2
  // busy", "connection refused", "HTTP/1.1 503 Service Unavailable".
  std::string detail;
  // The dialogue as it happened ("S: 220 ...", "C: EHLO ..."): why a server
  // is down, without a packet capture.
  std::vector<std::string> transcript;
};

boost::asio::awaitable<ProbeResult> probe(const CheckSpec& spec);

}  // namespace sb::health
