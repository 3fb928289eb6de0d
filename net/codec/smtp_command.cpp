#include "net/codec/smtp_command.h"

#include <array>
#include <cstring>

namespace sb::net {
namespace {

char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

bool istarts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

struct VerbName {
  std::string_view name;
  SmtpVerb verb;
};

constexpr std::array<VerbName, 14> kVerbs{{
    {"HELO", SmtpVerb::helo},
    {"EHLO", SmtpVerb::ehlo},
    {"MAIL", SmtpVerb::mail},
    {"RCPT", SmtpVerb::rcpt},
    {"DATA", SmtpVerb::data},
    {"RSET", SmtpVerb::rset},
    {"NOOP", SmtpVerb::noop},
    {"QUIT", SmtpVerb::quit},
    {"VRFY", SmtpVerb::vrfy},
    {"EXPN", SmtpVerb::expn},
    {"HELP", SmtpVerb::help},
    {"STARTTLS", SmtpVerb::starttls},
    {"AUTH", SmtpVerb::auth},
    {"BDAT", SmtpVerb::bdat},
}};

// SIZE=digits among the ESMTP parameters (keywords ignore case).
std::optional<std::uint64_t> size_parameter(std::string_view params) {
  while (!params.empty()) {
    const std::size_t sp = params.find(' ');
    const std::string_view p = params.substr(0, sp);
    params = sp == std::string_view::npos ? std::string_view() : trim(params.substr(sp + 1));
    if (!istarts_with(p, "SIZE=")) continue;
    const std::string_view digits = p.substr(5);
    if (digits.empty() || digits.size() > 18) return std::nullopt;
    std::uint64_t v = 0;
    for (char c : digits) {
      if (c < '0' || c > '9') return std::nullopt;
      v = v * 10 + static_cast<std::uint64_t>(c - '0');
    }
    return v;
  }
  return std::nullopt;
}

// "FROM:<path> params" / "TO:<path> params", after the verb.
void parse_path(SmtpCommand& c, std::string_view keyword) {
  std::string_view a = c.argument;
  if (!istarts_with(a, keyword)) {
    c.error =
        c.verb == SmtpVerb::mail ? "Syntax: MAIL FROM:<address>" : "Syntax: RCPT TO:<address>";
    return;
  }
  a = trim(a.substr(keyword.size()));
  const std::size_t close = a.find('>');
  if (a.empty() || a.front() != '<' || close == std::string_view::npos) {
    c.error = "Bad address syntax";
    return;
  }
  c.path = a.substr(1, close - 1);
  c.parameters = trim(a.substr(close + 1));
  if (c.path.find('<') != std::string_view::npos) {
    c.error = "Bad address syntax";
    return;
  }
  if (c.verb == SmtpVerb::rcpt && c.path.empty()) {
    c.error = "Bad recipient address syntax";
    return;
  }
  if (c.verb == SmtpVerb::mail) c.size = size_parameter(c.parameters);
}

}  // namespace

SmtpLine next_smtp_line(std::string_view buffer, std::size_t max) {
  SmtpLine line;
  const std::size_t window = buffer.size() < max ? buffer.size() : max;
  const void* lf = window == 0 ? nullptr : std::memchr(buffer.data(), '\n', window);
  if (!lf) {
    line.status = buffer.size() >= max ? SmtpLine::Status::too_long : SmtpLine::Status::need_more;
    return line;
  }
  const std::size_t end = static_cast<std::size_t>(static_cast<const char*>(lf) - buffer.data());
  line.status = SmtpLine::Status::line;
  line.consumed = end + 1;
  line.text = buffer.substr(0, end);
  if (!line.text.empty() && line.text.back() == '\r') line.text.remove_suffix(1);
  return line;
}

std::size_t skip_smtp_line(std::string_view buffer, bool& found_end) {
  const void* lf = buffer.empty() ? nullptr : std::memchr(buffer.data(), '\n', buffer.size());
  found_end = lf != nullptr;
  if (!lf) return buffer.size();
  return static_cast<std::size_t>(static_cast<const char*>(lf) - buffer.data()) + 1;
}

SmtpCommand parse_smtp_command(std::string_view line) {
  SmtpCommand c;
  const std::size_t sp = line.find(' ');
  const std::string_view verb = line.substr(0, sp);
  c.argument = sp == std::string_view::npos ? std::string_view() : trim(line.substr(sp + 1));
  for (const VerbName& v : kVerbs) {
    if (iequals(verb, v.name)) {
      c.verb = v.verb;
      break;
    }
  }
  switch (c.verb) {
    case SmtpVerb::helo:
    case SmtpVerb::ehlo:
      if (c.argument.empty()) c.error = "Syntax: EHLO hostname";
      break;
    case SmtpVerb::mail:
      parse_path(c, "FROM:");
      break;
    case SmtpVerb::rcpt:
      parse_path(c, "TO:");
      break;
    case SmtpVerb::data:
    case SmtpVerb::rset:
    case SmtpVerb::quit:
    case SmtpVerb::starttls:
      if (!c.argument.empty()) c.error = "Syntax: no parameters allowed";
      break;
    default:
      break;
  }
  return c;
}

std::optional<std::size_t> SmtpDataEnd::scan(std::string_view chunk) {
  const char* p = chunk.data();
  const char* const end = p + chunk.size();
  while (p < end) {
    switch (state_) {
      case State::in_line: {
        // The common case: skip to the next line end at memchr speed.
        const void* lf = std::memchr(p, '\n', static_cast<std::size_t>(end - p));
        if (!lf) return std::nullopt;
        p = static_cast<const char*>(lf) + 1;
        state_ = State::line_start;
        break;
      }
      case State::line_start:
        state_ = *p == '.' ? State::dot : *p == '\n' ? State::line_start : State::in_line;
        ++p;
        break;
      case State::dot:
        if (*p == '\n') {
          terminator_size_ = 2;
          return static_cast<std::size_t>(p + 1 - chunk.data());
        }
        state_ = *p == '\r' ? State::dot_cr : State::in_line;
        ++p;
        break;
      case State::dot_cr:
        if (*p == '\n') {
          terminator_size_ = 3;
          return static_cast<std::size_t>(p + 1 - chunk.data());
        }
        state_ = State::in_line;
        ++p;
        break;
    }
  }
  return std::nullopt;
}

}  // namespace sb::net
