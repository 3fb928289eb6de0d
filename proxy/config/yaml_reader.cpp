#include "proxy/config/yaml_reader.h"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <limits>
#include <set>
#include <tuple>

namespace sb::config {
namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// Decimal digits only: no sign, no spaces, no hex, so that "0x10" or "+5"
// are reported rather than silently read some other way.
std::optional<std::uint64_t> parse_digits(std::string_view text) {
  if (text.empty()) return std::nullopt;
  for (char c : text) {
    if (!is_digit(c)) return std::nullopt;
  }
  std::uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return value;
}

std::string upper(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

bool is_valid_label(std::string_view label, bool allow_underscore) {
  if (label.empty() || label.size() > 63) return false;
  if (label.front() == '-' || label.back() == '-') return false;
  return std::all_of(label.begin(), label.end(), [&](char c) {
    return is_alpha(c) || is_digit(c) || c == '-' || (allow_underscore && c == '_');
  });
}

bool is_valid_name(std::string_view name, bool allow_underscore) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (name.empty() || name.size() > 253) return false;
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = name.find('.', start);
    const std::string_view label =
        name.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (!is_valid_label(label, allow_underscore)) return false;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return true;
}

// Digits and dots only: meant as an IPv4 address, never a host name (RFC 1123
// §2.1 forbids an all-numeric top-level label for exactly this reason).
bool looks_numeric(std::string_view host) {
  return std::all_of(host.begin(), host.end(), [](char c) { return is_digit(c) || c == '.'; });
}

std::string quoted(std::string_view text) {
  return fmt::format("\"{}\"", text);
}

}  // namespace

Mark to_mark(const YAML::Mark& mark) {
  if (mark.line < 0 || mark.column < 0) return Mark{1, 1};
  return Mark{mark.line + 1, mark.column + 1};
}

Mark mark_of(const YAML::Node& node) {
  if (!node.IsDefined()) return Mark{1, 1};
  return to_mark(node.Mark());
}

// A bare number is refused because "timeout: 5" is ambiguous between 5ms and
// 5s; zero is the same in every unit, and specs write `max-age: 0`.
Parsed<Duration> parse_duration(std::string_view text) {
  constexpr std::string_view kUnits = "ms, s, m, h";
  if (text == "0") return {Duration::zero(), {}};
  if (!text.empty() && text.front() == '-') {
    return {std::nullopt, fmt::format("{} is negative; durations are >= 0", quoted(text))};
  }
  std::size_t digits = 0;
  while (digits < text.size() && is_digit(text[digits])) ++digits;
  if (digits == 0) {
    return {std::nullopt,
            fmt::format("{} is not a duration (write e.g. 250ms, 5s, 2m, 1h)", quoted(text))};
  }
  const std::string_view unit = text.substr(digits);
  if (unit.empty()) {
    return {std::nullopt,
            fmt::format("{} has no unit (write e.g. {}s; units: {})", quoted(text), text, kUnits)};
  }
  std::int64_t factor = 0;
  if (unit == "ms") {
    factor = 1;
  } else if (unit == "s") {
    factor = 1000;
  } else if (unit == "m") {
    factor = 60 * 1000;
  } else if (unit == "h") {
    factor = 60 * 60 * 1000;
  } else {
    return {std::nullopt, fmt::format("{} has an unknown unit {} (units: {})", quoted(text),
                                      quoted(unit), kUnits)};
  }
  const auto number = parse_digits(text.substr(0, digits));
  // Ten years is far beyond any sensible timeout and keeps milliseconds well
  // inside int64 for arithmetic done on them later.
  constexpr std::int64_t kMaxMs = 10LL * 365 * 24 * 60 * 60 * 1000;
  if (!number || *number > static_cast<std::uint64_t>(kMaxMs / factor)) {
    return {std::nullopt, fmt::format("{} is too large", quoted(text))};
  }
  return {Duration(static_cast<std::int64_t>(*number) * factor), {}};
}

std::string format_duration(Duration duration) {
  const std::int64_t ms = duration.count();
  if (ms != 0 && ms % (60 * 60 * 1000) == 0) return fmt::format("{}h", ms / (60 * 60 * 1000));
  if (ms != 0 && ms % (60 * 1000) == 0) return fmt::format("{}m", ms / (60 * 1000));
  if (ms % 1000 == 0) return fmt::format("{}s", ms / 1000);
  return fmt::format("{}ms", ms);
}

Parsed<std::uint64_t> parse_size(std::string_view text) {
  constexpr std::string_view kUnits = "B, KB, KiB, MB, MiB, GB, GiB, TB, TiB";
  if (text == "0") return {0, {}};
  if (!text.empty() && text.front() == '-') {
    return {std::nullopt, fmt::format("{} is negative; sizes are >= 0", quoted(text))};
  }
  std::size_t digits = 0;
  while (digits < text.size() && is_digit(text[digits])) ++digits;
  if (digits == 0) {
    return {std::nullopt,
            fmt::format("{} is not a size (write e.g. 512B, 64KB, 50MB)", quoted(text))};
  }
  std::string_view unit = text.substr(digits);
  // "50 MB" reads naturally; allow one space before the unit.
  if (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
  if (unit.empty()) {
    return {std::nullopt,
            fmt::format("{} has no unit (write e.g. {}B; units: {})", quoted(text), text, kUnits)};
  }
  static constexpr std::array<std::pair<std::string_view, std::uint64_t>, 9> kFactors = {{
      {"B", 1},
      {"KB", 1000},
      {"KIB", 1024},
      {"MB", 1000 * 1000},
      {"MIB", 1024 * 1024},
      {"GB", 1000ULL * 1000 * 1000},
      {"GIB", 1024ULL * 1024 * 1024},
      {"TB", 1000ULL * 1000 * 1000 * 1000},
      {"TIB", 1024ULL * 1024 * 1024 * 1024},
  }};
  const std::string unit_upper = upper(unit);
  std::uint64_t factor = 0;
  for (const auto& [name, f] : kFactors) {
    if (unit_upper == name) factor = f;
  }
  if (factor == 0) {
    return {std::nullopt, fmt::format("{} has an unknown unit {} (units: {})", quoted(text),
                                      quoted(unit), kUnits)};
  }
  const auto number = parse_digits(text.substr(0, digits));
  if (!number || *number > std::numeric_limits<std::uint64_t>::max() / factor) {
    return {std::nullopt, fmt::format("{} is too large", quoted(text))};
  }
  return {*number * factor, {}};
}

Parsed<HostPort> parse_host_port(std::string_view text, HostRule rule) {
  HostPort out;
  std::string_view host;
  std::string_view port;
  if (text.empty()) return {std::nullopt, "the address is empty (write e.g. 10.0.0.1:25)"};
  if (text.front() == '[') {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos) {
      return {std::nullopt, fmt::format("{} has no closing \"]\"", quoted(text))};
    }
    host = text.substr(1, close - 1);
    const std::string_view rest = text.substr(close + 1);
    if (rest.empty() || rest.front() != ':') {
      return {std::nullopt,
              fmt::format("{} is missing \":PORT\" (write e.g. [::1]:25)", quoted(text))};
    }
    port = rest.substr(1);
    in6_addr addr6{};
    if (inet_pton(AF_INET6, std::string(host).c_str(), &addr6) != 1) {
      return {std::nullopt,
              fmt::format("{}: {} is not an IPv6 address", quoted(text), quoted(host))};
    }
    out.kind = HostPort::Kind::ipv6;
  } else {
    const std::size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      return {std::nullopt,
              fmt::format("{} is missing \":PORT\" (write e.g. {}:25)", quoted(text), text)};
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return {std::nullopt,
              fmt::format("{}: IPv6 addresses need brackets, e.g. [2001:db8::1]:25", quoted(text))};
    }
    if (host.empty()) return {std::nullopt, fmt::format("{} has no host", quoted(text))};
    in_addr addr4{};
    if (looks_numeric(host)) {
      if (inet_pton(AF_INET, std::string(host).c_str(), &addr4) != 1) {
        return {std::nullopt,
                fmt::format("{}: {} is not an IPv4 address", quoted(text), quoted(host))};
      }
      out.kind = HostPort::Kind::ipv4;
    } else if (!is_valid_hostname(host)) {
      return {std::nullopt,
              fmt::format("{}: {} is not a valid host name", quoted(text), quoted(host))};
    } else if (rule == HostRule::ip_only) {
      return {std::nullopt, fmt::format("{}: expected an IP address here, not the host name {}",
                                        quoted(text), quoted(host))};
    } else {
      out.kind = HostPort::Kind::hostname;
    }
  }
  const auto number = parse_digits(port);
  if (!number || *number < 1 || *number > 65535) {
    return {std::nullopt,
            fmt::format("{}: port {} is not in 1..65535", quoted(text), quoted(port))};
  }
  out.host = std::string(host);
  out.port = static_cast<std::uint16_t>(*number);
  return {out, {}};
}

bool is_valid_hostname(std::string_view name) {
  return is_valid_name(name, false);
}
bool is_valid_dns_name(std::string_view name) {
  return is_valid_name(name, true);
}

bool is_valid_object_name(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return is_alpha(c) || is_digit(c) || c == '.' || c == '_' || c == '-';
  });
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  // Levenshtein with one row; keys are short.
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::optional<std::string_view> closest_key(std::string_view key,
                                            std::span<const std::string_view> known) {
  std::optional<std::string_view> best;
  std::size_t best_distance = 3;
  for (std::string_view candidate : known) {
    const std::size_t d = edit_distance(key, candidate);
    if (d < best_distance) {
      best = candidate;
      best_distance = d;
    }
  }
  return best;
}

std::string_view describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return "a value";
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      break;
  }
  return "nothing";
}

void YamlReader::error(Mark at, std::string message) {
  if (diagnostics_.size() >= kMaxErrors) {
    if (!too_many_errors_) {
      too_many_errors_ = true;
      diagnostics_.push_back(
          {at, fmt::format("more than {} errors; the first {} are shown", kMaxErrors, kMaxErrors)});
    }
    return;
  }
  diagnostics_.push_back({at, std::move(message)});
}

namespace {
std::string field_message(const Field& field, std::string_view problem) {
  if (field.ctx.empty()) return fmt::format("{}: {}", field.key, problem);
  return fmt::format("{}: {}: {}", field.ctx, field.key, problem);
}
}  // namespace

void YamlReader::error(const Field& field, std::string_view problem) {
  const Mark at =
      field.value.IsDefined() && !field.value.IsNull() ? mark_of(field.value) : field.key_mark;
  error(at, field_message(field, problem));
}

void YamlReader::error_at_key(const Field& field, std::string_view problem) {
  error(field.key_mark, field_message(field, problem));
}

std::vector<Diagnostic> YamlReader::take_sorted() {
  std::stable_sort(
      diagnostics_.begin(), diagnostics_.end(), [](const Diagnostic& a, const Diagnostic& b) {
        return std::tie(a.mark.line, a.mark.column) < std::tie(b.mark.line, b.mark.column);
      });
  return std::move(diagnostics_);
}

bool YamlReader::expect_scalar(const Field& field, std::string_view expected) {
  if (field.value.IsScalar()) return true;
  if (!field.value.IsDefined() || field.value.IsNull()) {
    error_at_key(field, fmt::format("missing value (expected {})", expected));
  } else {
    error(field, fmt::format("expected {}, got {}", expected, describe(field.value)));
  }
  return false;
}

bool YamlReader::expect_map(const Field& field) {
  if (field.value.IsMap()) return true;
  if (!field.value.IsDefined() || field.value.IsNull()) {
    error_at_key(field, "missing value (expected a mapping)");
  } else {
    error(field, fmt::format("expected a mapping, got {}", describe(field.value)));
  }
  return false;
}

bool YamlReader::for_each_entry(const Field& map, const std::string& ctx, std::string_view where,
                                std::span<const std::string_view> known, Marks* marks,
                                std::string_view mark_prefix, const EntryFn& fn) {
  if (!expect_map(map)) return false;
  std::set<std::string, std::less<>> seen;
  // Copies of the nodes: yaml-cpp's `it->first` refers into a temporary that
  // dies at the end of the statement.
  for (const auto& entry : map.value) {
    const YAML::Node key_node = entry.first;
    const Mark key_mark = mark_of(key_node);
    if (!key_node.IsScalar()) {
      error(key_mark, fmt::format("expected a plain key {}, got {}", where, describe(key_node)));
      continue;
    }
    const std::string& key = key_node.Scalar();
    if (!seen.insert(key).second) {
      error(key_mark, fmt::format("duplicate key {} {}", quoted(key), where));
      continue;
    }
    if (!known.empty() && std::find(known.begin(), known.end(), key) == known.end()) {
      std::string message = fmt::format("unknown key {} {}", quoted(key), where);
      if (auto guess = closest_key(key, known)) {
        message += fmt::format(" (did you mean {}?)", quoted(*guess));
      }
      error(key_mark, std::move(message));
      continue;
    }
    std::string full_key = std::string(mark_prefix) + key;
    if (marks != nullptr) marks->emplace(full_key, key_mark);
    fn(Field{ctx, std::move(full_key), key_mark, entry.second});
  }
  return true;
}

std::optional<std::vector<Field>> YamlReader::items(const Field& list) {
  if (!list.value.IsSequence()) {
    if (!list.value.IsDefined() || list.value.IsNull()) {
      error_at_key(list, "missing value (expected a list)");
    } else {
      error(list, fmt::format("expected a list, got {}", describe(list.value)));
    }
    return std::nullopt;
  }
  std::vector<Field> out;
  for (const YAML::Node& item : list.value) {
    out.push_back(Field{list.ctx, list.key, mark_of(item), item});
  }
  return out;
}

std::optional<std::string> YamlReader::read_string(const Field& field, bool allow_empty) {
  if (!expect_scalar(field, "a string")) return std::nullopt;
  const std::string& text = field.value.Scalar();
  if (text.empty() && !allow_empty) {
    error(field, "must not be empty");
    return std::nullopt;
  }
  return text;
}

std::optional<bool> YamlReader::read_bool(const Field& field) {
  if (!expect_scalar(field, "true or false")) return std::nullopt;
  // Only true/false: YAML 1.1's yes/no/on/off are a classic source of
  // surprises (the "Norway problem"), so they are refused, not guessed.
  const std::string& text = field.value.Scalar();
  if (text == "true" || text == "True" || text == "TRUE") return true;
  if (text == "false" || text == "False" || text == "FALSE") return false;
  error(field, fmt::format("expected true or false, got {}", quoted(text)));
  return std::nullopt;
}

std::optional<std::int64_t> YamlReader::read_int(const Field& field, std::int64_t low,
                                                 std::int64_t high) {
  const std::string expected = high == std::numeric_limits<std::int64_t>::max()
                                   ? fmt::format("an integer >= {}", low)
                                   : fmt::format("an integer {}..{}", low, high);
  if (!expect_scalar(field, expected)) return std::nullopt;
  const std::string& text = field.value.Scalar();
  std::string_view digits = text;
  const bool negative = !digits.empty() && digits.front() == '-';
  if (negative) digits.remove_prefix(1);
  const auto magnitude = parse_digits(digits);
  if (magnitude &&
      *magnitude <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
    const auto value = static_cast<std::int64_t>(*magnitude) * (negative ? -1 : 1);
    if (value >= low && value <= high) return value;
  }
  error(field, fmt::format("expected {}, got {}", expected, quoted(text)));
  return std::nullopt;
}

std::optional<Duration> YamlReader::read_duration(const Field& field, Min min) {
  if (!expect_scalar(field, "a duration like 5s")) return std::nullopt;
  auto parsed = parse_duration(field.value.Scalar());
  if (!parsed.value) {
    error(field, parsed.error);
    return std::nullopt;
  }
  if (min == Min::positive && parsed.value->count() == 0) {
    error(field, fmt::format("must be greater than 0, got {}", quoted(field.value.Scalar())));
    return std::nullopt;
  }
  return parsed.value;
}

std::optional<std::uint64_t> YamlReader::read_size(const Field& field, Min min) {
  if (!expect_scalar(field, "a size like 64KB")) return std::nullopt;
  auto parsed = parse_size(field.value.Scalar());
  if (!parsed.value) {
    error(field, parsed.error);
    return std::nullopt;
  }
  if (min == Min::positive && *parsed.value == 0) {
    error(field, fmt::format("must be greater than 0, got {}", quoted(field.value.Scalar())));
    return std::nullopt;
  }
  return parsed.value;
}

std::optional<HostPort> YamlReader::read_address(const Field& field, HostRule rule) {
  if (!expect_scalar(field, rule == HostRule::ip_only ? "IP:PORT" : "HOST:PORT")) {
    return std::nullopt;
  }
  auto parsed = parse_host_port(field.value.Scalar(), rule);
  if (!parsed.value) {
    error(field, parsed.error);
    return std::nullopt;
  }
  parsed.value->mark = mark_of(field.value);
  return parsed.value;
}

std::optional<net::Cidr> YamlReader::read_cidr(const Field& field) {
  if (!expect_scalar(field, "a CIDR like 10.0.0.0/8")) return std::nullopt;
  const std::string& text = field.value.Scalar();
  auto cidr = net::Cidr::parse(text);
  if (!cidr) {
    error(field, fmt::format("{} is not a network like 10.0.0.0/8, 2001:db8::/32 or an address",
                             quoted(text)));
  }
  return cidr;
}

std::optional<std::string> YamlReader::read_hostname(const Field& field) {
  auto text = read_string(field);
  if (!text) return std::nullopt;
  if (!is_valid_hostname(*text)) {
    error(field, fmt::format("{} is not a valid host name", quoted(*text)));
    return std::nullopt;
  }
  return text;
}

}  // namespace sb::config
