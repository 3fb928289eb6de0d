#include "health/http_status.h"

#include <cctype>

namespace sb::health {

std::optional<HttpStatusLine> parse_status_line(std::string_view response) {
  const auto eol = response.find("\r\n");
  if (eol == std::string_view::npos) return std::nullopt;
  const std::string_view line = response.substr(0, eol);
  // "HTTP/1.1 200" at least: version, space, three digits, then end or space.
  if (line.size() < 12 || !line.starts_with("HTTP/1.") || line[8] != ' ') return std::nullopt;
  for (std::size_t i = 9; i < 12; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(line[i]))) return std::nullopt;
  }
  if (line.size() > 12 && line[12] != ' ') return std::nullopt;
  const int code = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
  return HttpStatusLine{code, line};
}

std::string_view http_body(std::string_view response) {
  const auto end = response.find("\r\n\r\n");
  return end == std::string_view::npos ? std::string_view{} : response.substr(end + 4);
}

}  // namespace sb::health
