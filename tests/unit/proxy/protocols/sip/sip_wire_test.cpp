// The SIP codec's whole-message parse (net/codec/sip_message.h) and what the
// sip listener writes from it (proxy/protocols/sip/sip_wire.h).

#include "proxy/protocols/sip/sip_wire.h"

#include <gtest/gtest.h>

#include <string>

#include "net/codec/sip_message.h"

namespace sb::sip {
namespace {

using net::parse_sip_message;
using net::SipMessage;
using net::SipParseError;

const std::string kInvite =
    "INVITE sip:um@127.0.0.1:5060 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bKgw1;rport\r\n"
    "Max-Forwards: 70\r\n"
    "Route: <sip:127.0.0.1:5060;lr>, <sip:10.9.9.9;lr>\r\n"
    "From: \"GW, one\" <sip:gw@10.0.0.1>;tag=ft1\r\n"
    "To: <sip:um@127.0.0.1>\r\n"
    "Call-ID: call-1@10.0.0.1\r\n"
    "CSeq: 7 INVITE\r\n"
    "Contact: <sip:gw@10.0.0.1:5070>\r\n"
    "Content-Type: application/sdp\r\n"
    "Content-Length: 5\r\n"
    "\r\n"
    "v=0\r\n";

TEST(SipParse, ReadsWhatAProxyRoutesOn) {
  SipMessage m;
  ASSERT_EQ(parse_sip_message(kInvite, m), SipParseError::none);
  EXPECT_TRUE(m.request);
  EXPECT_EQ(m.method, "INVITE");
  EXPECT_EQ(m.uri, "sip:um@127.0.0.1:5060");
  EXPECT_EQ(m.call_id, "call-1@10.0.0.1");
  EXPECT_EQ(m.cseq, 7u);
  EXPECT_EQ(m.cseq_method, "INVITE");
  EXPECT_EQ(m.max_forwards, 70);
  EXPECT_EQ(m.branch, "z9hG4bKgw1");
  EXPECT_EQ(m.from_tag, "ft1");
  EXPECT_TRUE(m.to_tag.empty());
  EXPECT_EQ(m.body, "v=0\r\n");
  EXPECT_EQ(m.size, kInvite.size());
}

TEST(SipParse, CompactFormsFoldedLinesAndViaLists) {
  const std::string r =
      "SIP/2.0 180 Ringing\r\n"
      "v: SIP/2.0/UDP 127.0.0.1:4000;branch=z9hG4bKsb1.1, SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKx\r\n"
      "f: <sip:gw@x>;tag=a\r\nt: <sip:um@y>;tag=b\r\n"
      "i: folded\r\n  id\r\nCSeq: 1 INVITE\r\nl: 0\r\n\r\n";
  SipMessage m;
  ASSERT_EQ(parse_sip_message(r, m), SipParseError::none);
  EXPECT_EQ(m.status, 180);
  EXPECT_EQ(m.branch, "z9hG4bKsb1.1");
  EXPECT_EQ(m.to_tag, "b");
  EXPECT_EQ(m.call_id, "folded\r\n  id");
}

TEST(SipParse, RefusesWhatCannotBeRouted) {
  const std::string head = "OPTIONS sip:a SIP/2.0\r\n";
  const std::string ids = "From: <sip:x>;tag=1\r\nTo: <sip:a>\r\nCall-ID: c\r\n";
  const std::string via = "Via: SIP/2.0/UDP h;branch=z9hG4bK1\r\n";
  SipMessage m;
  EXPECT_EQ(parse_sip_message(head + ids + "CSeq: 1 OPTIONS\r\n\r\n", m), SipParseError::missing);
  EXPECT_EQ(parse_sip_message(head + via + ids + "CSeq: x OPTIONS\r\n\r\n", m),
            SipParseError::cseq);
  EXPECT_EQ(parse_sip_message(head + via + ids + "CSeq: 1 INVITE\r\n\r\n", m), SipParseError::cseq);
  EXPECT_EQ(
      parse_sip_message(head + via + ids + "CSeq: 1 OPTIONS\r\nContent-Length: 9\r\n\r\nab", m),
      SipParseError::content_length);
  EXPECT_EQ(
      parse_sip_message(head + via + ids + "CSeq: 1 OPTIONS\r\nMax-Forwards: many\r\n\r\n", m),
      SipParseError::max_forwards);
  EXPECT_EQ(parse_sip_message(head + via + "no colon here\r\n\r\n", m), SipParseError::header);
  EXPECT_EQ(parse_sip_message("GET / HTTP/1.1\r\n\r\n", m), SipParseError::start_line);
  EXPECT_EQ(parse_sip_message(head + via + ids, m), SipParseError::header);  // truncated
}

TEST(SipParse, UriAndViaParts) {
  auto hp = net::sip_uri_host_port("<sip:um@[::1]:5070;lr>");
  ASSERT_TRUE(hp);
  EXPECT_EQ(hp->host, "::1");
  EXPECT_EQ(hp->port, 5070);
  EXPECT_TRUE(hp->has_user);
  hp = net::sip_uri_host_port("sip:127.0.0.1;transport=tcp");
  ASSERT_TRUE(hp);
  EXPECT_EQ(hp->port, 0);
  EXPECT_FALSE(net::sip_uri_host_port("tel:+123"));
  EXPECT_EQ(net::sip_first_element("\"a, b\" <sip:x>, <sip:y>").first, "\"a, b\" <sip:x>");
}

bool own(std::string_view uri, const void*) {
  return uri.find("127.0.0.1:5060") != uri.npos;
}

TEST(SipWire, ForwardedRequestHasOurViaAndRecordRouteAndLosesOurRoute) {
  SipMessage m;
  ASSERT_EQ(parse_sip_message(kInvite, m), SipParseError::none);
  ForwardOptions o;
  o.via = {"UDP", "127.0.0.1:40000", "z9hG4bKsb1.1"};
  o.record_route = "<sip:127.0.0.1:40000;lr>";
  o.is_own_route = own;
  std::string out;
  write_forwarded_request(m, o, out);
  SipMessage f;
  ASSERT_EQ(parse_sip_message(out, f), SipParseError::none) << out;
  EXPECT_EQ(f.branch, "z9hG4bKsb1.1");
  EXPECT_EQ(f.max_forwards, 69);
  EXPECT_NE(out.find("Record-Route: <sip:127.0.0.1:40000;lr>\r\n"), std::string::npos);
  EXPECT_NE(out.find("Route: <sip:10.9.9.9;lr>\r\n"), std::string::npos) << out;
  EXPECT_EQ(out.find("Route: <sip:127.0.0.1:5060"), std::string::npos) << out;
  EXPECT_NE(out.find("Via: SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bKgw1;rport\r\n"),
            std::string::npos);
  EXPECT_EQ(f.body, m.body);
}

TEST(SipWire, ForwardedResponseLosesOurViaAndGetsTheCallersRecordRoute) {
  const std::string r =
      "SIP/2.0 200 OK\r\n"
      "Via: SIP/2.0/UDP 127.0.0.1:40000;branch=z9hG4bKsb1.1, SIP/2.0/UDP "
      "10.0.0.1;branch=z9hG4bKx\r\n"
      "Record-Route: <sip:127.0.0.1:40000;lr>\r\n"
      "From: <sip:gw@x>;tag=a\r\nTo: <sip:um@y>;tag=b\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n"
      "Content-Length: 0\r\n\r\n";
  SipMessage m;
  ASSERT_EQ(parse_sip_message(r, m), SipParseError::none);
  std::string out;
  write_forwarded_response(m, "<sip:127.0.0.1:40000;lr>", "<sip:127.0.0.1:5060;lr>", out);
  SipMessage f;
  ASSERT_EQ(parse_sip_message(out, f), SipParseError::none) << out;
  EXPECT_EQ(f.branch, "z9hG4bKx");
  EXPECT_NE(out.find("Record-Route: <sip:127.0.0.1:5060;lr>\r\n"), std::string::npos) << out;
}

TEST(SipWire, OwnResponseAckAndCancel) {
  SipMessage m;
  ASSERT_EQ(parse_sip_message(kInvite, m), SipParseError::none);
  std::string out;
  write_response(m, 503, reason_phrase(503), "sbtag", "Retry-After: 30\r\n", out);
  SipMessage r;
  ASSERT_EQ(parse_sip_message(out, r), SipParseError::none) << out;
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.to_tag, "sbtag");
  EXPECT_EQ(r.branch, "z9hG4bKgw1");
  EXPECT_NE(out.find("Retry-After: 30\r\n"), std::string::npos);

  std::string cancel;  // `r` still points into `out`
  write_cancel(m, cancel);
  SipMessage c;
  ASSERT_EQ(parse_sip_message(cancel, c), SipParseError::none) << cancel;
  EXPECT_EQ(c.method, "CANCEL");
  EXPECT_EQ(c.branch, m.branch);
  EXPECT_EQ(c.cseq, 7u);
  EXPECT_EQ(c.cseq_method, "CANCEL");

  std::string ack;
  write_ack(m, r, ack);
  SipMessage a;
  ASSERT_EQ(parse_sip_message(ack, a), SipParseError::none) << ack;
  EXPECT_EQ(a.method, "ACK");
  EXPECT_EQ(a.to_tag, "sbtag");  // the response's To
  EXPECT_EQ(a.branch, m.branch);
}

}  // namespace
}  // namespace sb::sip
