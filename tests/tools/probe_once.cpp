// probe_once: runs one health probe (health::probe) against a real peer and
// prints the result as JSON, so that integration tests can exercise a
// check type the runtime cannot select yet (SIP OPTIONS over TCP, which
// needs a SIP listener: a later milestone).
//
//   probe_once TYPE IP PORT [--sip-tcp] [--timeout-ms N] [--starttls] [--host H]
#include <boost/asio.hpp>
#include <boost/json.hpp>
#include <boost/json/src.hpp>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>

#include "health/probe.h"
#include "net/endpoint.h"

int main(int argc, char** argv) {
  namespace asio = boost::asio;
  using sb::health::CheckType;
  if (argc < 4) {
    std::fprintf(stderr, "usage: probe_once tcp|smtp|http|https|sip-options IP PORT [options]\n");
    return 2;
  }
  sb::health::CheckSpec spec;
  const std::string type = argv[1];
  spec.type = type == "smtp"          ? CheckType::smtp
              : type == "http"        ? CheckType::http
              : type == "https"       ? CheckType::https
              : type == "sip-options" ? CheckType::sip_options
                                      : CheckType::tcp;
  const auto address = asio::ip::make_address(argv[2]);
  spec.ip = sb::net::to_ip(address);
  spec.port = static_cast<std::uint16_t>(std::stoi(argv[3]));
  for (int i = 4; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--sip-tcp") spec.sip_transport = sb::health::SipTransport::tcp;
    if (arg == "--starttls") spec.starttls = true;
    if (arg == "--timeout-ms" && i + 1 < argc)
      spec.timeout = std::chrono::milliseconds(std::stoi(argv[++i]));
    if (arg == "--host" && i + 1 < argc) spec.host = argv[++i];
  }
  asio::io_context io;
  sb::health::ProbeResult result;
  asio::co_spawn(io, sb::health::probe(spec), [&](std::exception_ptr e, sb::health::ProbeResult r) {
    if (e) std::rethrow_exception(e);
    result = std::move(r);
  });
  io.run();
  boost::json::array transcript;
  for (const auto& line : result.transcript) transcript.emplace_back(line);
  std::cout << boost::json::serialize(boost::json::object{{"ok", result.ok},
                                                          {"timed_out", result.timed_out},
                                                          {"detail", result.detail},
                                                          {"transcript", transcript}})
            << "\n";
  return result.ok ? 0 : 1;
}
