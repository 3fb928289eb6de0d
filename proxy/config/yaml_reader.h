#pragma once
// Typed reads of YAML values for the configuration loader. Nothing here throws
// on bad input: every problem becomes a Diagnostic with a 1-based position, so
// that `switchboard check` can report all mistakes of a file in one run.
//
// Message shape: "CTX: KEY: problem", e.g.
//   pool "relay": connect-timeout: "5" has no unit (write e.g. 5s; units: ms, s, m, h)
// CTX names the enclosing object (empty at the top level), KEY the key as
// written. Positions: a bad value is reported at the value, a missing value
// (YAML null) at its key, because yaml-cpp gives a null the position of
// whatever token follows it.

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "net/codec/cidr.h"
#include "proxy/config/config.h"

namespace sb::config {

struct Diagnostic {
  Mark mark;
  std::string message;
};

// 1-based position; yaml-cpp's marks are 0-based (and -1 when unknown, which
// becomes 1:1 so that every message still has a position).
Mark to_mark(const YAML::Mark& mark);
Mark mark_of(const YAML::Node& node);

// A value together with what a message needs to name it.
struct Field {
  std::string ctx;   // `pool "relay"`; empty at the top level
  std::string key;   // `connect-timeout`; for list items, the list's key
  Mark key_mark;     // where a missing value is reported
  YAML::Node value;  // may be null
};

// ---- Pure parsers: no YAML involved, the error text says what is wrong. ----

template <class T>
struct Parsed {
  std::optional<T> value;
  std::string error;  // set when value is empty
};

// "250ms", "5s", "2m", "1h"; "0" alone is accepted (zero in any unit).
Parsed<Duration> parse_duration(std::string_view text);
// The shortest exact spelling: 300000ms -> "5m", 1500ms -> "1500ms".
std::string format_duration(Duration duration);
// "512B", "64KB" (1000), "64KiB" (1024), MB/MiB, GB/GiB, TB/TiB; "0" alone.
Parsed<std::uint64_t> parse_size(std::string_view text);

enum class HostRule {
  any,      // IP or host name (servers: names are resolved)
  ip_only,  // sockets we bind or DNS servers we ask: a name makes no sense
};
// IP:PORT, [IPv6]:PORT, HOSTNAME:PORT with port 1..65535.
Parsed<HostPort> parse_host_port(std::string_view text, HostRule rule);

// RFC 1123 host name: labels of letters, digits and '-' (not at either end),
// 1..63 characters each, at most 253 in all; one trailing dot allowed.
bool is_valid_hostname(std::string_view name);
// Like a host name, but labels may also contain '_' (_sip._tcp.example.com).
bool is_valid_dns_name(std::string_view name);
// Pool and listener names: [A-Za-z0-9._-]+ (they appear in URLs and metrics).
bool is_valid_object_name(std::string_view name);

std::size_t edit_distance(std::string_view a, std::string_view b);
// The known key nearest to `key` when at most 2 edits away, for "did you mean".
std::optional<std::string_view> closest_key(std::string_view key,
                                            std::span<const std::string_view> known);

// "a mapping", "a list", "a value", "nothing": for "expected X, got Y".
std::string_view describe(const YAML::Node& node);

template <class E>
struct EnumName {
  std::string_view name;
  E value;
};

enum class Min { zero, positive };

class YamlReader {
 public:
  void error(Mark at, std::string message);
  // "CTX: KEY: problem" at the value (at the key when the value is null).
  void error(const Field& field, std::string_view problem);
  // Same text, reported at the key.
  void error_at_key(const Field& field, std::string_view problem);

  bool has_errors() const { return !diagnostics_.empty(); }
  // Sorted by position (stable: same position keeps the order of discovery).
  std::vector<Diagnostic> take_sorted();

  // Walks a mapping in file order. Each key must be a plain scalar, appear
  // once, and (when `known` is non-empty) be one of `known`; otherwise an error
  // names `where` (`in pool "relay"`, `at top level`). Known keys get their
  // mark stored in `marks` (if given) as `mark_prefix + key` and are passed to
  // `fn` as a Field with ctx `ctx` and key `mark_prefix + key`.
  // Returns false when the value is not a mapping at all.
  using EntryFn = std::function<void(const Field&)>;
  bool for_each_entry(const Field& map, const std::string& ctx, std::string_view where,
                      std::span<const std::string_view> known, Marks* marks,
                      std::string_view mark_prefix, const EntryFn& fn);

  // The items of a list, each as a Field keyed like the list (errors in an item
  // then read "CTX: KEY: ..."). Empty with an error when not a list.
  std::optional<std::vector<Field>> items(const Field& list);

  // Checks that the value is a scalar; reports null / mapping / list otherwise.
  // `expected` completes "expected ...".
  bool expect_scalar(const Field& field, std::string_view expected);
  bool expect_map(const Field& field);

  std::optional<std::string> read_string(const Field& field, bool allow_empty = false);
  std::optional<bool> read_bool(const Field& field);
  std::optional<std::int64_t> read_int(const Field& field, std::int64_t low, std::int64_t high);
  std::optional<Duration> read_duration(const Field& field, Min min);
  std::optional<std::uint64_t> read_size(const Field& field, Min min);
  std::optional<HostPort> read_address(const Field& field, HostRule rule);
  std::optional<net::Cidr> read_cidr(const Field& field);
  std::optional<std::string> read_hostname(const Field& field);

  template <class E>
  std::optional<E> read_enum(const Field& field, std::span<const EnumName<E>> names) {
    std::string list;
    for (const auto& n : names) {
      if (!list.empty()) list += ", ";
      list += n.name;
    }
    if (!expect_scalar(field, "one of: " + list)) return std::nullopt;
    const std::string& text = field.value.Scalar();
    for (const auto& n : names) {
      if (n.name == text) return n.value;
    }
    error(field, "\"" + text + "\" is not one of: " + list);
    return std::nullopt;
  }

  // A file with thousands of mistakes gets its first ones and a line
  // saying the rest is left out, not a screenful per line of the file.
  static constexpr std::size_t kMaxErrors = 1'000;

 private:
  std::vector<Diagnostic> diagnostics_;
  bool too_many_errors_ = false;
};

}  // namespace sb::config
