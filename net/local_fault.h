#pragma once
// Errors that say this process, not its peer, ran out of something:
// descriptors (per process or system-wide), socket buffers or memory. The
// proxy neither blames a server for them (docs/configuration.md, "outlier")
// nor retries them at once: an accept loop would spin.

#include <cerrno>

#include "net/asio.h"

namespace sb::net {

inline bool out_of_local_resources(const error_code& ec) {
  return ec == asio::error::no_descriptors || ec.value() == ENFILE ||
         ec == asio::error::no_buffer_space || ec == asio::error::no_memory;
}

}  // namespace sb::net
