#include "proxy/protocols/sip/sip_wire.h"

#include <charconv>

namespace sb::sip {
namespace {

using net::SipField;
using net::SipHeader;
using net::SipMessage;

void append_number(std::string& out, std::uint64_t n) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, n);
  out.append(buf, r.ptr);
}

void append_via(std::string& out, const ViaSpec& via) {
  out += "Via: SIP/2.0/";
  out += via.transport;
  out += ' ';
  out += via.sent_by;
  out += ";branch=";
  out += via.branch;
  out += "\r\n";
}

void append_field(std::string& out, std::string_view name, std::string_view value) {
  out += name;
  out += ": ";
  out += value;
  out += "\r\n";
}

void end_with_body(std::string& out, std::string_view body) {
  out += "Content-Length: ";
  append_number(out, body.size());
  out += "\r\n\r\n";
  out += body;
}

const SipField* first(const SipMessage& m, SipHeader kind) {
  for (const SipField& f : m.fields) {
    if (f.kind == kind) return &f;
  }
  return nullptr;
}

// The Route fields of `m`, as they are (ACK and CANCEL follow the INVITE's).
void append_routes(std::string& out, const SipMessage& m) {
  for (const SipField& f : m.fields) {
    if (f.kind == SipHeader::route) out += f.line;
  }
}

// From, To (or `to` instead), Call-ID of `m`.
void append_dialog_ids(std::string& out, const SipMessage& m, std::string_view to) {
  for (const SipField& f : m.fields) {
    if (f.kind == SipHeader::from || f.kind == SipHeader::call_id) out += f.line;
    if (f.kind == SipHeader::to) {
      if (to.empty()) {
        out += f.line;
      } else {
        append_field(out, "To", to);
      }
    }
  }
}

void append_cseq(std::string& out, std::uint32_t n, std::string_view method) {
  out += "CSeq: ";
  append_number(out, n);
  out += ' ';
  out += method;
  out += "\r\n";
}

std::string_view to_value(const SipMessage& m) {
  const SipField* f = first(m, SipHeader::to);
  return f ? f->value : std::string_view{};
}

}  // namespace

void write_forwarded_request(const SipMessage& m, const ForwardOptions& options, std::string& out) {
  out.clear();
  out += m.start_line;
  out += "\r\n";
  append_via(out, options.via);
  if (!options.record_route.empty()) append_field(out, "Record-Route", options.record_route);
  bool routes_done = options.is_own_route == nullptr;
  bool max_forwards = false;
  for (const SipField& f : m.fields) {
    switch (f.kind) {
      case SipHeader::content_length:
        continue;
      case SipHeader::max_forwards:
        max_forwards = true;
        out += "Max-Forwards: ";
        append_number(out, m.max_forwards > 0 ? static_cast<unsigned>(m.max_forwards - 1) : 0U);
        out += "\r\n";
        continue;
      case SipHeader::route:
        if (!routes_done) {
          // Removes our elements from the front of the route set; the first
          // element that is not ours ends the removal.
          std::string_view rest = f.value;
          while (!rest.empty()) {
            const auto [element, after] = net::sip_first_element(rest);
            if (!options.is_own_route(element, options.route_ctx)) break;
            rest = after;
          }
          if (rest.size() != f.value.size()) {
            if (!rest.empty()) {
              routes_done = true;
              append_field(out, f.name, rest);
            }
            continue;
          }
          routes_done = true;
        }
        out += f.line;
        continue;
      default:
        out += f.line;
    }
  }
  if (!max_forwards) out += "Max-Forwards: 70\r\n";
  end_with_body(out, m.body);
}

void write_forwarded_response(const SipMessage& m, std::string_view rr_from, std::string_view rr_to,
                              std::string& out) {
  out.clear();
  out += m.start_line;
  out += "\r\n";
  for (std::size_t i = 0; i < m.fields.size(); ++i) {
    const SipField& f = m.fields[i];
    if (i == m.top_via_field) {
      const auto rest = net::sip_first_element(f.value).second;
      if (!rest.empty()) append_field(out, f.name, rest);
      continue;
    }
    if (f.kind == SipHeader::content_length) continue;
    if (f.kind == SipHeader::record_route && !rr_from.empty() &&
        f.value.find(rr_from) != std::string_view::npos) {
      std::string value(f.value);
      for (auto at = value.find(rr_from); at != std::string::npos;
           at = value.find(rr_from, at + rr_to.size())) {
        value.replace(at, rr_from.size(), rr_to);
      }
      append_field(out, f.name, value);
      continue;
    }
    out += f.line;
  }
  end_with_body(out, m.body);
}

void write_response(const SipMessage& m, int status, std::string_view reason,
                    std::string_view to_tag, std::string_view extra, std::string& out) {
  out.clear();
  out += "SIP/2.0 ";
  append_number(out, static_cast<unsigned>(status));
  out += ' ';
  out += reason;
  out += "\r\n";
  for (const SipField& f : m.fields) {
    switch (f.kind) {
      case SipHeader::via:
      case SipHeader::from:
      case SipHeader::call_id:
      case SipHeader::cseq:
        out += f.line;
        break;
      case SipHeader::to:
        if (m.to_tag.empty() && status > 100 && !to_tag.empty()) {
          out += "To: ";
          out += f.value;
          out += ";tag=";
          out += to_tag;
          out += "\r\n";
        } else {
          out += f.line;
        }
        break;
      default:
        break;
    }
  }
  out += extra;
  out += "Server: switchboard\r\n";
  end_with_body(out, {});
}

void write_ack(const SipMessage& forwarded, const SipMessage& response, std::string& out) {
  out.clear();
  out += "ACK ";
  out += forwarded.uri;
  out += " SIP/2.0\r\n";
  append_field(out, "Via", forwarded.top_via);
  append_routes(out, forwarded);
  append_dialog_ids(out, forwarded, to_value(response));
  append_cseq(out, forwarded.cseq, "ACK");
  out += "Max-Forwards: 70\r\n";
  end_with_body(out, {});
}

void write_cancel(const SipMessage& forwarded, std::string& out) {
  out.clear();
  out += "CANCEL ";
  out += forwarded.uri;
  out += " SIP/2.0\r\n";
  append_field(out, "Via", forwarded.top_via);
  append_routes(out, forwarded);
  append_dialog_ids(out, forwarded, {});
  append_cseq(out, forwarded.cseq, "CANCEL");
  out += "Max-Forwards: 70\r\n";
  end_with_body(out, {});
}

namespace {

// The in-dialog request `method` to the server that sent the 2xx `response`:
// its Contact as the Request-URI (the INVITE's when it has none).
void write_in_dialog(std::string_view method, std::uint32_t cseq, const SipMessage& forwarded,
                     const SipMessage& response, const ViaSpec& via, std::string& out) {
  std::string_view target = forwarded.uri;
  if (const SipField* contact = first(response, SipHeader::contact)) {
    std::string_view v = net::sip_first_element(contact->value).first;
    const auto open = v.find('<');
    const auto close = v.find('>');
    if (open != std::string_view::npos && close != std::string_view::npos && close > open) {
      v = v.substr(open + 1, close - open - 1);
    } else {
      v = v.substr(0, v.find(';'));
    }
    if (!v.empty()) target = v;
  }
  out.clear();
  out += method;
  out += ' ';
  out += target;
  out += " SIP/2.0\r\n";
  append_via(out, via);
  append_dialog_ids(out, forwarded, to_value(response));
  append_cseq(out, cseq, method);
  out += "Max-Forwards: 70\r\n";
  end_with_body(out, {});
}

}  // namespace

void write_ack_2xx(const SipMessage& forwarded, const SipMessage& response, const ViaSpec& via,
                   std::string& out) {
  write_in_dialog("ACK", forwarded.cseq, forwarded, response, via, out);
}

void write_bye(const SipMessage& forwarded, const SipMessage& response, const ViaSpec& via,
               std::string& out) {
  write_in_dialog("BYE", forwarded.cseq + 1, forwarded, response, via, out);
}

std::string_view reason_phrase(int status) {
  switch (status) {
    case 100:
      return "Trying";
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 408:
      return "Request Timeout";
    case 481:
      return "Call/Transaction Does Not Exist";
    case 483:
      return "Too Many Hops";
    case 487:
      return "Request Terminated";
    case 500:
      return "Server Internal Error";
    case 503:
      return "Service Unavailable";
    case 513:
      return "Message Too Large";
    default:
      return "Error";
  }
}

}  // namespace sb::sip
