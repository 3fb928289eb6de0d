"""Active health checks against real peers: Postfix smtp-sink (healthy, and
with a 421 greeting), a private Postfix with STARTTLS, closed ports, nginx
health pages, sipp answering SIP OPTIONS, and a backend killed and restarted
while the proxy runs and carries traffic; scripted peers for what no real
server sends (a 10 000-line banner, 100 Trying without end, HTTP garbage)."""

import json
import os
import socket
import subprocess
import sys
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
import sbtest  # noqa: E402
from sbtest import (IntegrationTest, Nginx, PostfixInstance, SippUas, SmtpSink,  # noqa: E402
                    Switchboard, free_port, free_port_tcp_udp, http_get, one_pool_config,
                    wait_until)


class HealthTest(IntegrationTest):

    def start(self, servers_yaml, health=None, pool_extra=""):
        """health=None leaves the key out: the default check applies."""
        self.port = free_port()
        self.admin = free_port()
        pool_lines = "    connect-timeout: 500ms\n" + (f"    health: {health}\n" if health else "")
        self.sb = Switchboard(self.procs, self.workdir,
                              one_pool_config(self.port, self.admin, servers_yaml,
                                              pool_lines + pool_extra),
                              wait_ports=[self.port])

    def servers(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.admin}/status", timeout=5) as r:
            return {s["name"]: s for s in json.load(r)["pools"][0]["servers"]}

    def wait_state(self, name, state, timeout=10):
        wait_until(lambda: self.servers()[name]["health"] == state, timeout=timeout,
                   what=f"{name} {state}")

    def test_smtp_check_tells_a_421_greeting_and_a_closed_port_from_a_good_server(self):
        good = SmtpSink(self.procs)
        busy = SmtpSink(self.procs, args=["-Q", "CONNECT"], name="smtp-sink-421")
        closed = free_port()
        self.start(f"""\
      - {{address: 127.0.0.1:{good.port}, name: good}}
      - {{address: 127.0.0.1:{busy.port}, name: busy}}
      - {{address: 127.0.0.1:{closed}, name: closed}}""",
                   "{check: smtp, interval: 200ms, timeout: 1s, rise: 2, fall: 2, helo: probe.test}")
        # The first check decides at once: no fall window for new servers.
        self.wait_state("busy", "down", timeout=5)
        self.wait_state("closed", "down", timeout=5)
        s = self.servers()
        self.assertEqual(s["good"]["state"], "up")
        self.assertEqual(s["good"]["last_check"]["result"], "pass")
        self.assertIn("250", s["good"]["last_check"]["detail"])
        busy_failure = s["busy"]["last_failure"]
        self.assertIn("421", busy_failure["detail"])
        self.assertIn("S: 421 4.0.0 Server closing connection", busy_failure["transcript"])
        self.assertIn("refused", s["closed"]["last_failure"]["detail"])
        log = self.sb.log()
        self.assertRegex(log, r"pool p: busy down: smtp banner \"421 [^\"]*\" after [\d.]+ms")
        self.assertIn("pool p: closed down:", log)
        # Traffic only reaches the good server, and the retry path is not used.
        for _ in range(10):
            with __import__("socket").create_connection(("127.0.0.1", self.port), timeout=5) as c:
                self.assertTrue(c.recv(100).startswith(b"220 smtp-sink"))

    def test_smtp_check_of_a_10000_line_banner_fails_and_says_why(self):
        # No real server sends this (a scripted peer): a 220 greeting of
        # 10 000 lines that ends properly. The check gives up at 100 lines.
        lines = b"".join(b"220-line %d\r\n" % i for i in range(10000)) + b"220 end\r\n"

        def huge(conn):
            conn.sendall(lines)
            conn.recv(100)
        bad = sbtest.ScriptedServer(huge)
        self.addCleanup(bad.close)
        good = SmtpSink(self.procs)
        self.start(f"""\
      - {{address: 127.0.0.1:{good.port}, name: good}}
      - {{address: 127.0.0.1:{bad.port}, name: huge}}""",
                   "{check: smtp, interval: 200ms, timeout: 1s, rise: 1, fall: 1}")
        self.wait_state("huge", "down", timeout=5)
        s = self.servers()
        self.assertEqual(s["huge"]["last_failure"]["detail"],
                         "smtp banner: reply longer than 100 lines")
        sbtest.wait_for_log(self.sb, "pool p: huge down: smtp banner: reply longer than 100 lines")
        self.assertEqual(s["good"]["health"], "up")
        self.assertIsNone(self.sb.proc.poll())

    def test_killed_server_leaves_within_fall_and_returns_after_rise(self):
        a = SmtpSink(self.procs)
        b = SmtpSink(self.procs)
        self.start(f"""\
      - {{address: 127.0.0.1:{a.port}, name: a}}
      - {{address: 127.0.0.1:{b.port}, name: b}}""",
                   "{check: smtp, interval: 200ms, timeout: 500ms, rise: 3, fall: 2}")
        self.wait_state("b", "up")
        time.sleep(0.5)  # both have passed checks
        b.stop()
        started = time.monotonic()
        self.wait_state("b", "down", timeout=5)
        # fall=2 at 200ms (+-10%) intervals: about half a second, never instant.
        self.assertLess(time.monotonic() - started, 2.5)
        self.assertEqual(self.servers()["a"]["health"], "up")
        SmtpSink(self.procs, port=b.port)
        started = time.monotonic()
        self.wait_state("b", "up", timeout=5)
        self.assertGreater(time.monotonic() - started, 0.3)  # rise=3 checks, not one
        log = self.sb.log()
        self.assertIn("pool p: b down:", log)
        self.assertIn("pool p: b up:", log)

    def test_traffic_while_a_backend_dies_loses_no_connection_after_detection(self):
        servers = [SmtpSink(self.procs) for _ in range(3)]
        self.start("\n".join(f"      - {{address: 127.0.0.1:{s.port}, name: s{i}}}"
                             for i, s in enumerate(servers)),
                   "{check: smtp, interval: 200ms, timeout: 500ms, rise: 2, fall: 2}",
                   pool_extra="    retries: 0\n")

        def banner():
            with socket.create_connection(("127.0.0.1", self.port), timeout=3) as c:
                return c.recv(100).startswith(b"220")

        self.assertTrue(all(banner() for _ in range(30)))
        servers[1].stop()
        # Detection window: fall x (interval + 10% jitter + the 10 ms check
        # tick) + timeout, and a little for the report to be published.
        time.sleep(2 * 0.23 + 0.5 + 0.2)
        self.assertEqual(self.servers()["s1"]["health"], "down")
        # retries: 0, so only health keeps connections off the dead server.
        results = [banner() for _ in range(300)]
        self.assertEqual(results.count(False), 0)

    def test_smtp_starttls_check_reports_the_certificate_expiry(self):
        cert = sbtest.self_signed_certificate(self.workdir, "relay.example.com")
        tls = PostfixInstance(self.procs, self.workdir, tls=cert, name="postfix-tls")
        plain = SmtpSink(self.procs)  # offers no STARTTLS
        self.start(f"""\
      - {{address: 127.0.0.1:{tls.port}, name: tls}}
      - {{address: 127.0.0.1:{plain.port}, name: plain}}""",
                   "{check: smtp, starttls: true, helo: probe.test, interval: 300ms, "
                   "timeout: 2s, rise: 1, fall: 1}")
        self.wait_state("plain", "down", timeout=10)
        wait_until(lambda: (self.servers()["tls"]["last_check"] or {}).get("result") == "pass",
                   timeout=10, what="a passing STARTTLS check")
        s = self.servers()
        self.assertEqual(s["tls"]["health"], "up")
        detail = s["tls"]["last_check"]["detail"]
        self.assertIn("STARTTLS TLSv1.", detail)
        # self_signed_certificate makes it valid for 2 days.
        self.assertRegex(detail, r"certificate expires \d{4}-\d\d-\d\dT[\d:]+Z \(in [12] days\)")
        self.assertIn("STARTTLS not offered", s["plain"]["last_failure"]["detail"])
        # The certificate's notAfter as a gauge, for the shipped expiry alert.
        expiry = sbtest.metric_value(
            self.admin, 'switchboard_server_certificate_expiry_timestamp_seconds'
            '{pool="p",server="tls"}')
        self.assertGreater(expiry, time.time() + 86400)
        self.assertLess(expiry, time.time() + 3 * 86400)
        self.assertEqual(sbtest.metric_value(
            self.admin, 'switchboard_server_certificate_expiry_timestamp_seconds'
            '{pool="p",server="plain"}'), 0)
        self.assertIn("C: EHLO probe.test", s["plain"]["last_failure"]["transcript"])
        # Postfix saw the second EHLO over TLS.
        wait_until(lambda: "TLS connection established" in tls.maillog(), timeout=5,
                   what="Postfix logging the TLS connection")

    def test_sip_options_check_over_udp(self):
        good = SippUas(self.procs, self.workdir, status=200)
        sick = SippUas(self.procs, self.workdir, status=503)
        closed = free_port_tcp_udp()
        self.start(f"""\
      - {{address: 127.0.0.1:{good.port}, name: good}}
      - {{address: 127.0.0.1:{sick.port}, name: sick}}
      - {{address: 127.0.0.1:{closed}, name: closed}}""",
                   "{check: sip-options, interval: 300ms, timeout: 1s, rise: 1, fall: 1}")
        self.wait_state("sick", "down", timeout=5)
        self.wait_state("closed", "down", timeout=5)
        s = self.servers()
        self.assertEqual(s["good"]["health"], "up")
        self.assertEqual(s["good"]["last_check"]["detail"], "SIP/2.0 200 OK")
        self.assertEqual(s["sick"]["last_failure"]["detail"], "SIP/2.0 503 Service Unavailable")
        self.assertIn("C: OPTIONS sip:127.0.0.1:", s["sick"]["last_failure"]["transcript"][0])
        # An ICMP port unreachable, not a timeout.
        self.assertIn("refused", s["closed"]["last_failure"]["detail"])
        log = self.sb.log()
        self.assertIn("pool p: sick down: SIP/2.0 503 Service Unavailable", log)

    def test_sip_options_probe_over_tcp(self):
        # The runtime picks TCP for pools behind a TCP SIP listener, which is
        # a later milestone; until then the probe is driven directly.
        probe_once = os.environ.get("SB_PROBE_ONCE")
        if not probe_once:
            self.fail("SB_PROBE_ONCE (the probe_once test tool) is not set")
        good = SippUas(self.procs, self.workdir, transport="tcp", status=200)
        sick = SippUas(self.procs, self.workdir, transport="tcp", status=500)

        def probe(port):
            out = subprocess.run([probe_once, "sip-options", "127.0.0.1", str(port), "--sip-tcp",
                                  "--timeout-ms", "2000"], capture_output=True, timeout=10)
            return json.loads(out.stdout)

        r = probe(good.port)
        self.assertTrue(r["ok"], r)
        self.assertEqual(r["detail"], "SIP/2.0 200 OK")
        self.assertIn("(TCP)", r["transcript"][0])
        r = probe(sick.port)
        self.assertFalse(r["ok"], r)
        self.assertEqual(r["detail"], "SIP/2.0 500 Server Internal Error")
        r = probe(free_port())
        self.assertFalse(r["ok"])
        self.assertIn("refused during connect", r["detail"])

    def test_sip_probe_transcript_is_bounded_when_answers_never_end(self):
        # No real server does this (a scripted peer): 100 Trying after 100
        # Trying and never a final answer. The probe times out with a
        # transcript cut at 64 lines.
        probe_once = os.environ.get("SB_PROBE_ONCE")
        if not probe_once:
            self.fail("SB_PROBE_ONCE (the probe_once test tool) is not set")
        trying = b"SIP/2.0 100 Trying\r\nContent-Length: 0\r\n\r\n" * 50

        def trying_forever(conn):
            conn.recv(4096)
            end = time.monotonic() + 3
            while time.monotonic() < end:
                conn.sendall(trying)
                time.sleep(0.01)
        server = sbtest.ScriptedServer(trying_forever)
        self.addCleanup(server.close)
        out = subprocess.run([probe_once, "sip-options", "127.0.0.1", str(server.port), "--sip-tcp",
                              "--timeout-ms", "1000"], capture_output=True, timeout=10)
        r = json.loads(out.stdout)
        self.assertFalse(r["ok"], r)
        self.assertEqual(r["detail"], "timeout during SIP response")
        self.assertEqual(len(r["transcript"]), 64)
        self.assertEqual(r["transcript"][1], "S: SIP/2.0 100 Trying")
        self.assertEqual(r["transcript"][-1], "(transcript cut here: more than 64 lines or 8 KiB)")

    def test_http_check_status_range_and_body(self):
        ok = {"name": "ok", "port": free_port()}
        sick = {"name": "sick", "port": free_port(), "status": 503}
        Nginx(self.procs, self.workdir, [ok, sick])
        sick_port = sick["port"]
        self.start(f"""\
      - {{address: 127.0.0.1:{ok['port']}, name: ok}}
      - {{address: 127.0.0.1:{sick_port}, name: sick}}""",
                   "{check: http, path: /owa/healthcheck.htm, host: mail.example.com, "
                   "expect-status: 200-299, expect-body: ok, interval: 200ms, timeout: 1s}")
        self.wait_state("sick", "down", timeout=5)
        s = self.servers()
        self.assertEqual(s["ok"]["health"], "up")
        self.assertIn("503", s["sick"]["last_failure"]["detail"])
        self.assertIn("S: HTTP/1.1 503 Service Temporarily Unavailable",
                      s["sick"]["last_failure"]["transcript"])
        self.assertEqual({http_get(self.port)[1] for _ in range(6)}, {"ok"})

    def test_http_check_expect_body_mismatch_is_a_failure(self):
        b = {"name": "b1", "port": free_port()}
        Nginx(self.procs, self.workdir, [b])
        self.start(f"      - {{address: 127.0.0.1:{b['port']}, name: b1}}",
                   "{check: http, expect-body: healthy, interval: 200ms}")
        self.wait_state("b1", "down", timeout=5)
        self.assertIn('body lacks "healthy"', self.servers()["b1"]["last_failure"]["detail"])

    def test_checks_send_a_proxy_header_when_servers_expect_one(self):
        b = {"name": "b1", "port": free_port(), "proxy_protocol": True}
        Nginx(self.procs, self.workdir, [b])
        self.start(f"      - {{address: 127.0.0.1:{b['port']}, name: b1}}",
                   "{check: http, interval: 200ms, rise: 1}", pool_extra="    proxy-protocol: v2")
        wait_until(lambda: (self.servers()["b1"]["last_check"] or {}).get("result") == "pass",
                   what="a passing check through PROXY v2 LOCAL")
        self.assertEqual(http_get(self.port), (0, "b1"))

    def test_outlier_ejection_without_active_checks(self):
        b = {"name": "b1", "port": free_port()}
        Nginx(self.procs, self.workdir, [b])
        closed = free_port()
        self.start(f"""\
      - {{address: 127.0.0.1:{closed}, name: gone}}
      - {{address: 127.0.0.1:{b['port']}, name: b1}}""", "{check: none}",
                   pool_extra="    outlier: {consecutive-failures: 3, ejection-time: 1500ms}")
        for _ in range(8):  # every other request meets the closed port first
            self.assertEqual(http_get(self.port), (0, "b1"))
        self.assertEqual(self.servers()["gone"]["state"], "down")
        self.assertRegex(self.sb.log(), r"pool p: gone down: ejected after 3 failed connects")
        before = self.sb.log().count("retries=1")
        for _ in range(6):
            http_get(self.port)
        self.assertEqual(self.sb.log().count("retries=1"), before, "ejected server still tried")
        # After the ejection time it is presented connections again.
        self.wait_state("gone", "up", timeout=5)
        self.assertIn("ejection of 1500ms over", self.sb.log())

    def test_an_ejected_server_is_back_once_its_checks_pass_again(self):
        # A restarted server: nginx killed while traffic flows (the real
        # connects fail and eject it), then started again on the same port.
        # Its checks pass from then on, and `rise` of them in a row bring it
        # back long before the 30s ejection-time.
        b1 = {"name": "b1", "port": free_port()}
        back = {"name": "back", "port": free_port()}
        Nginx(self.procs, self.workdir, [b1], tag="nginx-b1")
        restarted = Nginx(self.procs, self.workdir, [back], tag="nginx-back")
        self.start(f"""\
      - {{address: 127.0.0.1:{b1['port']}, name: b1}}
      - {{address: 127.0.0.1:{back['port']}, name: back}}""",
                   "{check: http, interval: 300ms, timeout: 500ms, rise: 2, fall: 20}",
                   pool_extra="    outlier: {consecutive-failures: 2, ejection-time: 30s}")
        self.wait_state("back", "up")
        restarted.proc.kill()
        restarted.proc.wait(timeout=10)
        # Each connect that meets the dead port counts; the client is served
        # by b1 (the retry) all the same.
        for _ in range(6):
            self.assertEqual(http_get(self.port), (0, "b1"))
        self.assertRegex(self.sb.log(), r"pool p: back down: ejected after 2 failed connects")
        self.assertEqual(self.servers()["back"]["health"], "down")
        Nginx(self.procs, self.workdir, [back], tag="nginx-back-again")
        started = time.monotonic()
        self.wait_state("back", "up", timeout=10)
        self.assertLess(time.monotonic() - started, 10, "waited for the ejection-time")
        wait_until(lambda: "back" in {http_get(self.port)[1] for _ in range(4)},
                   what="traffic reaching the restarted server")

    def test_https_check_with_sni_and_a_self_signed_certificate(self):
        cert = sbtest.self_signed_certificate(self.workdir, "mail.example.com")
        good = {"name": "good", "port": free_port(), "tls": cert}
        bad = {"name": "bad", "port": free_port(), "tls": cert, "status": 500}
        plain = {"name": "plain", "port": free_port()}  # speaks no TLS
        Nginx(self.procs, self.workdir, [good, bad, plain])
        self.start("\n".join(f"      - {{address: 127.0.0.1:{s['port']}, name: {s['name']}}}"
                             for s in (good, bad, plain)),
                   "{check: https, host: mail.example.com, path: /owa/healthcheck.htm, "
                   "interval: 200ms, timeout: 1s}")
        self.wait_state("bad", "down", timeout=5)
        self.wait_state("plain", "down", timeout=5)
        s = self.servers()
        self.assertEqual(s["good"]["health"], "up")
        self.assertIn("200", s["good"]["last_check"]["detail"])
        self.assertIn("500", s["bad"]["last_failure"]["detail"])
        self.assertTrue(any(line.startswith("TLS: TLSv1.")
                            for line in s["bad"]["last_failure"]["transcript"]))
        self.assertIn("TLS handshake", s["plain"]["last_failure"]["detail"])

    def wait_requests(self, nginx, name, n, timeout=10):
        wait_until(lambda: len(nginx.connections(name)) >= n, timeout=timeout,
                   what=f"{n} checks at {name}")
        return nginx.connections(name)

    def assert_one_connection(self, conns):
        """Every request on one connection, which counted them 1, 2, 3 ..."""
        self.assertEqual({c for c, _ in conns}, {conns[0][0]}, conns)
        self.assertEqual([n for _, n in conns], list(range(1, len(conns) + 1)), conns)

    def assert_new_connections(self, conns):
        self.assertEqual(len({c for c, _ in conns}), len(conns), conns)
        self.assertEqual({n for _, n in conns}, {1}, conns)

    def test_http_check_keeps_its_connection_between_checks(self):
        ok = {"name": "ok", "port": free_port()}
        sick = {"name": "sick", "port": free_port(), "status": 503}
        nginx = Nginx(self.procs, self.workdir, [ok, sick])
        self.start(f"""\
      - {{address: 127.0.0.1:{ok['port']}, name: ok}}
      - {{address: 127.0.0.1:{sick['port']}, name: sick}}""",
                   "{check: http, interval: 100ms, timeout: 1s, rise: 1, fall: 2}")
        self.assert_one_connection(self.wait_requests(nginx, "ok", 8))
        # A failed check closes its connection: each check of a failing
        # server must get a new one accepted.
        self.assert_new_connections(self.wait_requests(nginx, "sick", 4))
        self.assertEqual(self.servers()["ok"]["health"], "up")
        # The server dies with the kept connection open: down in time.
        nginx.proc.terminate()
        nginx.proc.wait(timeout=10)
        start = time.monotonic()
        self.wait_state("ok", "down", timeout=5)
        self.assertLess(time.monotonic() - start, 2 * 0.1 + 1 + 1)
        self.assertIn("refused during connect", self.servers()["ok"]["last_failure"]["detail"])

    def test_https_check_keeps_its_tls_connection(self):
        cert = sbtest.self_signed_certificate(self.workdir, "mail.example.com")
        b = {"name": "b1", "port": free_port(), "tls": cert}
        nginx = Nginx(self.procs, self.workdir, [b])
        self.start(f"      - {{address: 127.0.0.1:{b['port']}, name: b1}}",
                   "{check: https, host: mail.example.com, interval: 100ms, rise: 1}")
        self.assert_one_connection(self.wait_requests(nginx, "b1", 6))
        self.assertEqual(self.servers()["b1"]["health"], "up")

    def test_http_check_without_reuse_opens_a_connection_per_check(self):
        b = {"name": "b1", "port": free_port()}
        nginx = Nginx(self.procs, self.workdir, [b])
        self.start(f"      - {{address: 127.0.0.1:{b['port']}, name: b1}}",
                   "{check: http, interval: 100ms, rise: 1, reuse-connection: false}")
        self.assert_new_connections(self.wait_requests(nginx, "b1", 6))

    def test_http_check_reconnects_when_the_server_ends_a_kept_connection(self):
        # nginx closes idle connections after 50ms (checks come every
        # 300ms ± 10%: 220ms of margin for a late nginx timer on a busy
        # machine; 150ms once let a check find the connection still open),
        # and after 2 requests on one; the scripted server closes
        # when the second request arrives, as a server does whose keep-alive
        # timer fires just then. None of it is a failure (fall: 1).
        idle = {"name": "idle", "port": free_port(), "extra": "keepalive_timeout 50ms;"}
        limited = {"name": "limited", "port": free_port(), "extra": "keepalive_requests 2;"}
        nginx = Nginx(self.procs, self.workdir, [idle, limited])
        served = []

        def one_then_close(conn):
            for i, _ in enumerate(sbtest.requests_on(conn)):
                if i == 1:
                    return  # closed unanswered
                served.append(1)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n")
        racer = sbtest.ScriptedServer(one_then_close)
        self.addCleanup(racer.close)
        timed_out = []

        def one_then_408(conn):  # a 408 for the second request, then close
            for i, _ in enumerate(sbtest.requests_on(conn)):
                if i == 1:
                    timed_out.append(1)
                    conn.sendall(b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n"
                                 b"Content-Length: 0\r\n\r\n")
                    return
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n")
        timer = sbtest.ScriptedServer(one_then_408)
        self.addCleanup(timer.close)
        self.start(f"""\
      - {{address: 127.0.0.1:{idle['port']}, name: idle}}
      - {{address: 127.0.0.1:{limited['port']}, name: limited}}
      - {{address: 127.0.0.1:{racer.port}, name: racer}}
      - {{address: 127.0.0.1:{timer.port}, name: timer}}""",
                   "{check: http, interval: 300ms, timeout: 1s, rise: 1, fall: 1}")
        self.assert_new_connections(self.wait_requests(nginx, "idle", 5))
        conns = self.wait_requests(nginx, "limited", 6)
        self.assertEqual([n for _, n in conns][:6], [1, 2, 1, 2, 1, 2], conns)
        wait_until(lambda: len(served) >= 5, what="5 checks at the scripted server")
        wait_until(lambda: len(timed_out) >= 3, what="3 checks answered 408")
        s = self.servers()
        for name in ("idle", "limited", "racer", "timer"):
            self.assertEqual(s[name]["health"], "up", name)
            self.assertIsNone(s[name]["last_failure"], name)

    def test_http_check_judges_64kib_and_a_status_line_without_reason(self):
        # A 200 KiB page: read up to 64 KiB, judged there (the marker is
        # near its start), and that connection not kept. A server that
        # leaves the space after the status code out ("HTTP/1.1 200").
        root = os.path.join(self.workdir, "big")
        os.makedirs(root)
        with open(os.path.join(root, "hc.html"), "w") as f:
            f.write("<p>healthy-marker</p>\n" + "x" * (200 * 1024) + "\n")
        os.chmod(root, 0o755)
        big = {"name": "big", "port": free_port(), "root": root}
        nginx = Nginx(self.procs, self.workdir, [big])

        def bare_status(conn):
            for _ in sbtest.requests_on(conn):
                conn.sendall(b"HTTP/1.1 200\r\nContent-Length: 15\r\n\r\nhealthy-marker\n")
        bare = sbtest.ScriptedServer(bare_status)
        self.addCleanup(bare.close)
        self.start(f"""\
      - {{address: 127.0.0.1:{big['port']}, name: big}}
      - {{address: 127.0.0.1:{bare.port}, name: bare}}""",
                   "{check: http, path: /hc.html, expect-body: healthy-marker, interval: 200ms, "
                   "timeout: 1s, rise: 1, fall: 1}")
        self.assert_new_connections(self.wait_requests(nginx, "big", 4))
        wait_until(lambda: (self.servers()["bare"]["last_check"] or {}).get("result") == "pass",
                   what="a passing check of the bare status line")
        s = self.servers()
        for name in ("big", "bare"):
            self.assertEqual(s[name]["health"], "up", name)
            self.assertIsNone(s[name]["last_failure"], name)
        self.assertTrue(s["bare"]["last_check"]["detail"].startswith("HTTP/1.1 200"))

    def test_http_check_of_garbage_is_a_failure_with_its_first_line(self):
        # An SMTP server, binary noise, a header that never ends (over the
        # 16 KiB limit) and a status line cut off by a close: each is down,
        # says why, and the proxy lives on.
        smtp = SmtpSink(self.procs)

        def noise(conn):
            for _ in sbtest.requests_on(conn):
                conn.sendall(bytes(range(256)) * 4)
                return

        def endless_header(conn):
            for _ in sbtest.requests_on(conn):
                conn.sendall(b"HTTP/1.1 200 OK\r\nX: " + b"a" * (20 * 1024))
                time.sleep(2)
                return

        def cut(conn):
            for _ in sbtest.requests_on(conn):
                conn.sendall(b"HTTP/1.1 20")
                return
        peers = {name: sbtest.ScriptedServer(script) for name, script in
                 (("noise", noise), ("endless", endless_header), ("cut", cut))}
        for p in peers.values():
            self.addCleanup(p.close)
        self.start(f"      - {{address: 127.0.0.1:{smtp.port}, name: smtp}}\n" +
                   "\n".join(f"      - {{address: 127.0.0.1:{p.port}, name: {name}}}"
                             for name, p in peers.items()),
                   "{check: http, interval: 200ms, timeout: 1s, fall: 1}")
        for name in ("smtp", "noise", "endless", "cut"):
            self.wait_state(name, "down", timeout=5)
        s = self.servers()
        self.assertIn("not an HTTP response", s["smtp"]["last_failure"]["detail"])
        self.assertIn("S: 220 ", "\n".join(s["smtp"]["last_failure"]["transcript"]))
        self.assertIn("not an HTTP response", s["noise"]["last_failure"]["detail"])
        self.assertIn("header limit", s["endless"]["last_failure"]["detail"])
        self.assertEqual(s["cut"]["last_failure"]["detail"], "partial message during HTTP response")
        self.assertIsNone(self.sb.proc.poll())

    def test_a_banner_of_invalid_utf8_is_escaped_in_status_and_in_the_log(self):
        # No real server sends 0xff in its banner: a scripted one, refusing
        # with a 421 whose text is invalid UTF-8 and carries a bare CR.
        banner = b"421 mx\xff\xfe busy\rX \x80\r\n"

        def refuse(conn):
            conn.sendall(banner)
            conn.recv(100)
        bad = sbtest.ScriptedServer(refuse)
        self.addCleanup(bad.close)
        self.start(f"      - {{address: 127.0.0.1:{bad.port}, name: bad}}",
                   "{check: smtp, interval: 200ms, timeout: 1s, fall: 1}")
        self.wait_state("bad", "down", timeout=5)
        with urllib.request.urlopen(f"http://127.0.0.1:{self.admin}/status", timeout=5) as r:
            raw = r.read()
        self.assertTrue(raw.isascii(), raw)  # valid UTF-8, and no peer byte in it
        server = json.loads(raw)["pools"][0]["servers"][0]
        escaped = "421 mx\\xff\\xfe busy\\x0dX \\x80"
        self.assertIn(escaped, server["last_failure"]["detail"])
        self.assertIn("S: " + escaped, server["last_failure"]["transcript"])
        # The status page still loads (it reads /status, just checked).
        with urllib.request.urlopen(f"http://127.0.0.1:{self.admin}/", timeout=5) as r:
            self.assertEqual(r.status, 200)
        wait_until(lambda: "pool p: bad down:" in self.sb.log(), what="the down line")
        with open(self.sb.proc.log_path, "rb") as f:
            log = f.read()
        self.assertNotIn(b"\xff", log)
        self.assertIn(escaped.encode(), log)

    def test_tcp_is_the_default_check(self):
        closed = free_port()
        b = {"name": "b1", "port": free_port()}
        Nginx(self.procs, self.workdir, [b])
        self.start(f"""\
      - {{address: 127.0.0.1:{b['port']}, name: b1}}
      - {{address: 127.0.0.1:{closed}, name: gone}}""")
        self.wait_state("gone", "down", timeout=5)  # first check, at start
        self.assertEqual(self.servers()["b1"]["last_check"]["detail"], "connected")


if __name__ == "__main__":
    unittest.main()
