#pragma once
// The standard process_* metrics (Prometheus client conventions), read from
// /proc/self at scrape time.

#include <cstdint>

namespace sb::metrics {

struct ProcessStats {
  double cpu_seconds = 0;  // user + system
  double resident_bytes = 0;
  double virtual_bytes = 0;
  double open_fds = 0;
  double max_fds = 0;
  double start_time_seconds = 0;  // since the Unix epoch
};

ProcessStats read_process_stats();

}  // namespace sb::metrics
