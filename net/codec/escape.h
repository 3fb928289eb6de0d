#pragma once
// Bytes a peer sent, made safe for a log line, the admin API's JSON and the
// status page (docs/configuration.md, `log`): printable ASCII stays as it
// is, every other byte (control characters, DEL, and every byte >= 0x80,
// UTF-8 or not) becomes \xNN. A server's banner with a 0xff in it or a CR
// in a status line can then neither break /status nor forge a log line.
//
// The result is printable ASCII only, so escaping it again changes nothing:
// each place where text leaves the process escapes without knowing whether
// its source already did. A backslash stays as it is for that reason; a peer
// that sends the four characters \xff reads the same as one that sends the
// byte, which is good enough for a diagnostic.

#include <cstddef>
#include <string>
#include <string_view>

namespace sb::net {

// Appends `bytes`, escaped, to `out` (a std::string or a fmt buffer: anything
// with push_back(char)).
template <class Buffer>
void append_escaped(std::string_view bytes, Buffer& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (const char c : bytes) {
    const auto b = static_cast<unsigned char>(c);
    if (b >= 0x20 && b < 0x7f) {
      out.push_back(c);
    } else {
      out.push_back('\\');
      out.push_back('x');
      out.push_back(kHex[b >> 4]);
      out.push_back(kHex[b & 0xf]);
    }
  }
}

std::string escape_bytes(std::string_view bytes);

// The first `max` bytes of a peer's line, escaped, with "..." when it was
// longer: one reply line in a check's detail or transcript.
std::string printable(std::string_view bytes, std::size_t max = 200);

}  // namespace sb::net
