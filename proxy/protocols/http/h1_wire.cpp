#include "proxy/protocols/http/h1_wire.h"

#include <fmt/format.h>

#include <algorithm>

namespace sb::runtime::http {
namespace {

namespace bhttp = boost::beast::http;

void append_fields(std::string& out, const Fields& fields, std::size_t limit = SIZE_MAX) {
  std::size_t i = 0;
  for (const auto& f : fields) {
    if (i++ == limit) break;
    out.append(f.name_string());
    out.append(": ");
    out.append(f.value());
    out.append("\r\n");
  }
}

void append_framing(std::string& out, Framing framing) {
  if (framing == Framing::chunked) out.append("Transfer-Encoding: chunked\r\n");
}

// The hop's own Connection header: an upgrade, or the end of the
// connection after this message.
void append_connection(std::string& out, std::string_view upgrade, bool close) {
  if (!upgrade.empty()) {
    out.append("Connection: upgrade\r\nUpgrade: ");
    out.append(upgrade);
    out.append("\r\n");
  } else if (close) {
    out.append("Connection: close\r\n");
  }
}

}  // namespace

void write_request_head(std::string& out, std::string_view method, std::string_view target,
                        const Fields& fields, Framing framing, std::string_view upgrade) {
  out.clear();
  out.append(method);
  out.push_back(' ');
  out.append(target);
  out.append(" HTTP/1.1\r\n");
  append_fields(out, fields);
  append_framing(out, framing);
  append_connection(out, upgrade, false);
  out.append("\r\n");
}

void write_response_head(std::string& out, unsigned status, std::string_view reason,
                         const Fields& fields, Framing framing, bool close,
                         std::string_view upgrade) {
  out.clear();
  fmt::format_to(std::back_inserter(out), "HTTP/1.1 {:03d} ", status);
  out.append(reason.empty()
                 ? std::string_view(bhttp::obsolete_reason(static_cast<bhttp::status>(status)))
                 : reason);
  out.append("\r\n");
  append_fields(out, fields);
  append_framing(out, framing);
  append_connection(out, upgrade, close);
  out.append("\r\n");
}

std::size_t chunk_header(char (&out)[20], std::size_t size) {
  const auto end = fmt::format_to_n(out, sizeof out, "{:x}\r\n", size);
  return end.size;
}

HeadFields head_fields(const Fields& fields) {
  HeadFields head;
  for (const auto& f : fields) head.push_back(&f);
  std::sort(head.begin(), head.end());
  return head;
}

void write_last_chunk(std::string& out, const Fields& fields, const HeadFields& head) {
  out.assign("0\r\n");
  for (const auto& f : fields) {
    if (std::binary_search(head.begin(), head.end(), static_cast<const void*>(&f))) continue;
    out.append(f.name_string());
    out.append(": ");
    out.append(f.value());
    out.append("\r\n");
  }
  out.append("\r\n");
}

std::string own_answer(unsigned status, std::string_view reason_phrase, std::string_view body,
                       bool close, std::optional<int> retry_after) {
  std::string out = fmt::format(
      "HTTP/1.1 {} {}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n"
      "Cache-Control: no-store\r\n",
      status, reason_phrase, body.size() + 1);
  if (retry_after) out += fmt::format("Retry-After: {}\r\n", *retry_after);
  if (close) out += "Connection: close\r\n";
  out += "\r\n";
  out += body;
  out += "\n";
  return out;
}

bool is_idempotent(bhttp::verb method) {
  switch (method) {
    case bhttp::verb::get:
    case bhttp::verb::head:
    case bhttp::verb::options:
    case bhttp::verb::put:
    case bhttp::verb::delete_:
    case bhttp::verb::trace:
      return true;
    default:
      return false;
  }
}

}  // namespace sb::runtime::http
