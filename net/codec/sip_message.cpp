#include "net/codec/sip_message.h"

#include <array>
#include <cctype>
#include <charconv>
#include <utility>

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

// Blanks around a value; line ends too, which a folded line of blanks
// leaves at the end of one ("To: <sip:b>\r\n \r\n"): written out with more
// after it (";tag=..."), the value would break the message.
std::string_view trim(std::string_view s) {
  auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && blank(s.back())) s.remove_suffix(1);
  return s;
}

bool iequals(std::string_view a, std::string_view b) {
  return sip_iequals(a, b);
}

}  // namespace

bool sip_iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  // ASCII only, without the locale's tolower: header names and tokens are
  // ASCII, and this runs for every header of every message.
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i];
    char y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x + 32);
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y + 32);
    if (x != y) return false;
  }
  return true;
}

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

namespace sb::net {
namespace {

struct Name {
  std::string_view full;
  char compact;
  SipHeader kind;
};

constexpr Name kNames[] = {
    {"via", 'v', SipHeader::via},
    {"call-id", 'i', SipHeader::call_id},
    {"cseq", 0, SipHeader::cseq},
    {"from", 'f', SipHeader::from},
    {"to", 't', SipHeader::to},
    {"max-forwards", 0, SipHeader::max_forwards},
    {"content-length", 'l', SipHeader::content_length},
    {"route", 0, SipHeader::route},
    {"record-route", 0, SipHeader::record_route},
    {"contact", 'm', SipHeader::contact},
};

SipHeader kind_of(std::string_view name) {
  if (name.size() == 1) {
    char c = name[0];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
    for (const Name& n : kNames) {
      if (n.compact == c) return n.kind;
    }
    return SipHeader::other;
  }
  for (const Name& n : kNames) {
    if (sip_iequals(n.full, name)) return n.kind;
  }
  return SipHeader::other;
}

// RFC 3261 §25.1 token characters, as a table: checked for every
// character of every method and header name.
constexpr std::array<bool, 256> kTokenChars = [] {
  std::array<bool, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[static_cast<std::size_t>(c)] = true;
  for (int c = 'a'; c <= 'z'; ++c) t[static_cast<std::size_t>(c)] = true;
  for (int c = 'A'; c <= 'Z'; ++c) t[static_cast<std::size_t>(c)] = true;
  for (char c : std::string_view("-.!%*_+`'~")) t[static_cast<unsigned char>(c)] = true;
  return t;
}();

bool is_token_char(char c) {
  return kTokenChars[static_cast<unsigned char>(c)];
}

template <typename T>
bool to_number(std::string_view s, T& out) {
  if (s.empty()) return false;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

bool parse_start_line(std::string_view line, SipMessage& m) {
  if (line.starts_with("SIP/2.0 ")) {
    // The line is followed by its CRLF in the message: parsed in place.
    const auto status = parse_sip_status_line({line.data(), line.size() + 2});
    if (!status || status->code < 100 || status->code > 699) return false;
    m.request = false;
    m.status = status->code;
    return true;
  }
  const auto sp1 = line.find(' ');
  if (sp1 == std::string_view::npos || sp1 == 0) return false;
  const auto sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || sp2 == sp1 + 1) return false;
  if (line.substr(sp2 + 1) != "SIP/2.0") return false;
  m.method = line.substr(0, sp1);
  for (char c : m.method) {
    if (!is_token_char(c)) return false;
  }
  m.uri = line.substr(sp1 + 1, sp2 - sp1 - 1);
  if (m.uri.find(' ') != std::string_view::npos) return false;
  m.request = true;
  return true;
}

// The tag parameter of a From or To value, after its URI (a tag inside <...>
// would be a URI parameter, not the header's).
std::string_view tag_of(std::string_view value) {
  const auto close = value.find('>');
  const std::string_view params = close == std::string_view::npos ? value : value.substr(close);
  return sip_param(params, "tag").value_or(std::string_view{});
}

}  // namespace

std::optional<std::string_view> sip_param(std::string_view value, std::string_view name) {
  std::size_t pos = 0;
  while ((pos = value.find(';', pos)) != std::string_view::npos) {
    ++pos;
    std::size_t end = value.find_first_of(";,", pos);
    if (end == std::string_view::npos) end = value.size();
    const std::string_view param = trim(value.substr(pos, end - pos));
    const auto eq = param.find('=');
    const std::string_view key = trim(param.substr(0, eq));
    if (sip_iequals(key, name)) {
      return eq == std::string_view::npos ? std::string_view{} : trim(param.substr(eq + 1));
    }
    if (end < value.size() && value[end] == ',') break;  // the next element's
  }
  return std::nullopt;
}

std::pair<std::string_view, std::string_view> sip_first_element(std::string_view value) {
  bool quoted = false;
  bool in_uri = false;
  for (std::size_t i = 0; i < value.size(); ++i) {
    const char c = value[i];
    if (quoted) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        quoted = false;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == '<') {
      in_uri = true;
    } else if (c == '>') {
      in_uri = false;
    } else if (c == ',' && !in_uri) {
      return {trim(value.substr(0, i)), trim(value.substr(i + 1))};
    }
  }
  return {trim(value), {}};
}

std::optional<SipHostPort> sip_uri_host_port(std::string_view uri) {
  uri = trim(uri);
  if (const auto open = uri.find('<'); open != std::string_view::npos) {
    const auto close = uri.find('>', open);
    if (close == std::string_view::npos) return std::nullopt;
    uri = uri.substr(open + 1, close - open - 1);
  }
  if (uri.size() >= 4 && sip_iequals(uri.substr(0, 4), "sip:")) {
    uri.remove_prefix(4);
  } else if (uri.size() >= 5 && sip_iequals(uri.substr(0, 5), "sips:")) {
    uri.remove_prefix(5);
  } else {
    return std::nullopt;
  }
  SipHostPort hp;
  const auto end = uri.find_first_of(";?");
  std::string_view rest = uri.substr(0, end);
  if (const auto at = rest.rfind('@'); at != std::string_view::npos) {
    hp.has_user = true;
    rest.remove_prefix(at + 1);
  }
  std::string_view port;
  if (rest.starts_with('[')) {
    const auto close = rest.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    hp.host = rest.substr(1, close - 1);
    rest.remove_prefix(close + 1);
    if (!rest.empty()) {
      if (rest[0] != ':') return std::nullopt;
      port = rest.substr(1);
    }
  } else {
    const auto colon = rest.find(':');
    hp.host = rest.substr(0, colon);
    if (colon != std::string_view::npos) port = rest.substr(colon + 1);
  }
  if (hp.host.empty()) return std::nullopt;
  if (!port.empty() && !to_number(port, hp.port)) return std::nullopt;
  return hp;
}

SipParseError parse_sip_message(std::string_view bytes, SipMessage& m) {
  m.fields.clear();
  m.request = false;
  m.method = m.uri = m.start_line = m.body = {};
  m.status = 0;
  m.size = 0;
  m.call_id = m.cseq_method = m.top_via = m.branch = m.from_tag = m.to_tag = {};
  m.cseq = 0;
  m.max_forwards = -1;
  m.top_via_field = 0;

  // Leading CRLFs are keep-alives (RFC 5626) or stray line ends: skipped.
  std::size_t pos = 0;
  while (pos + 1 < bytes.size() && bytes[pos] == '\r' && bytes[pos + 1] == '\n') pos += 2;
  auto head_end = bytes.find("\r\n\r\n", pos);
  // A datagram cut short (no blank line): its complete lines are read all
  // the same, so that a Via among them gets the 400 it is owed.
  bool truncated = false;
  if (head_end == std::string_view::npos) {
    head_end = bytes.rfind("\r\n");
    if (head_end == std::string_view::npos || head_end < pos) return SipParseError::header;
    truncated = true;
  }
  auto eol = bytes.find("\r\n", pos);
  m.start_line = bytes.substr(pos, eol - pos);
  if (!parse_start_line(m.start_line, m)) return SipParseError::start_line;
  pos = eol + 2;

  bool have_cl = false;
  std::size_t content_length = 0;
  bool from = false;
  bool to = false;
  while (pos < head_end + 2) {
    // A field and its folded continuation lines (RFC 3261 §7.3.1).
    std::size_t end = bytes.find("\r\n", pos);
    while (end + 2 < head_end + 2 && (bytes[end + 2] == ' ' || bytes[end + 2] == '\t')) {
      end = bytes.find("\r\n", end + 2);
    }
    const std::string_view text = bytes.substr(pos, end - pos);
    const std::string_view line = bytes.substr(pos, end + 2 - pos);
    pos = end + 2;
    const auto colon = text.find(':');
    if (colon == std::string_view::npos || m.fields.size() >= kMaxSipFields) {
      return SipParseError::header;
    }
    SipField f;
    f.name = trim(text.substr(0, colon));
    if (f.name.empty()) return SipParseError::header;
    for (char c : f.name) {
      if (!is_token_char(c)) return SipParseError::header;
    }
    f.value = trim(text.substr(colon + 1));
    f.kind = kind_of(f.name);
    f.line = line;
    switch (f.kind) {
      case SipHeader::via:
        if (m.top_via.empty()) {
          m.top_via = sip_first_element(f.value).first;
          m.top_via_field = m.fields.size();
          m.branch = sip_param(m.top_via, "branch").value_or(std::string_view{});
        }
        break;
      case SipHeader::call_id:
        m.call_id = f.value;
        break;
      case SipHeader::cseq: {
        const auto sp = f.value.find_first_of(" \t");
        if (sp == std::string_view::npos || !to_number(f.value.substr(0, sp), m.cseq)) {
          return SipParseError::cseq;
        }
        m.cseq_method = trim(f.value.substr(sp));
        if (m.cseq_method.empty()) return SipParseError::cseq;
        break;
      }
      case SipHeader::from:
        from = true;
        m.from_tag = tag_of(f.value);
        break;
      case SipHeader::to:
        to = true;
        m.to_tag = tag_of(f.value);
        break;
      case SipHeader::max_forwards:
        if (!to_number(f.value, m.max_forwards) || m.max_forwards < 0 || m.max_forwards > 255) {
          return SipParseError::max_forwards;
        }
        break;
      case SipHeader::content_length:
        if (!to_number(f.value, content_length)) return SipParseError::content_length;
        have_cl = true;
        break;
      default:
        break;
    }
    m.fields.push_back(f);
  }
  if (truncated) return SipParseError::header;
  if (m.top_via.empty() || m.call_id.empty() || m.cseq_method.empty() || !from || !to) {
    return SipParseError::missing;
  }
  if (m.request && m.method != m.cseq_method && !(m.method == "ACK" && m.cseq_method == "INVITE") &&
      !(m.method == "CANCEL" && m.cseq_method == "INVITE")) {
    // ACK and CANCEL carry their own method in CSeq (RFC 3261 §17.1.1.3, §9.1);
    // tolerated as INVITE, which older stacks send.
    return SipParseError::cseq;
  }
  const std::size_t body_start = head_end + 4;
  const std::size_t available = bytes.size() - body_start;
  if (!have_cl) content_length = available;
  if (content_length > available) return SipParseError::content_length;
  m.body = bytes.substr(body_start, content_length);
  m.size = body_start + content_length;
  return SipParseError::none;
}

}  // namespace sb::net
