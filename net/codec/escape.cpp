#include "net/codec/escape.h"

namespace sb::net {

std::string escape_bytes(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  append_escaped(bytes, out);
  return out;
}

std::string printable(std::string_view bytes, std::size_t max) {
  std::string out = escape_bytes(bytes.substr(0, max));
  if (bytes.size() > max) out += "...";
  return out;
}

}  // namespace sb::net
