#include "net/codec/sip_message.h"

#include <cctype>
#include <charconv>

namespace sb::net {
namespace {

// "<version> ddd[ reason]" where the version is `version_length` characters
// starting with `prefix`.
std::optional<SipStatusLine> status_line(std::string_view response, std::string_view prefix,
                                         std::size_t version_length) {
  const auto eol = response.find("\r\n");
  if (eol == std::string_view::npos) return std::nullopt;
  const std::string_view line = response.substr(0, eol);
  const std::size_t digits = version_length + 1;
  if (line.size() < digits + 3 || !line.starts_with(prefix) || line[version_length] != ' ') {
    return std::nullopt;
  }
  for (std::size_t i = digits; i < digits + 3; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(line[i]))) return std::nullopt;
  }
  if (line.size() > digits + 3 && line[digits + 3] != ' ') return std::nullopt;
  const int code =
      (line[digits] - '0') * 100 + (line[digits + 1] - '0') * 10 + (line[digits + 2] - '0');
  return SipStatusLine{code, line};
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

std::optional<SipStatusLine> parse_sip_status_line(std::string_view response) {
  return status_line(response, "SIP/2.0", 7);
}

std::optional<std::size_t> sip_message_length(std::string_view stream) {
  const auto end = stream.find("\r\n\r\n");
  if (end == std::string_view::npos) return std::nullopt;
  const std::size_t head = end + 4;
  std::size_t body = 0;
  std::string_view rest = stream.substr(0, end + 2);
  while (!rest.empty()) {
    const auto eol = rest.find("\r\n");
    const std::string_view line = rest.substr(0, eol);
    rest.remove_prefix(eol + 2);
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const std::string_view name = trim(line.substr(0, colon));
    if (!iequals(name, "content-length") && !iequals(name, "l")) continue;
    const std::string_view value = trim(line.substr(colon + 1));
    std::from_chars(value.data(), value.data() + value.size(), body);
  }
  // Compared without adding: a Content-Length near 2^64 must not wrap
  // around into a short (or empty) message that a reader would then skip
  // over forever.
  if (body > stream.size() - head) return std::nullopt;
  return head + body;
}

}  // namespace sb::net
