"""The L4 `tcp` listener against real nginx backends and curl."""

import collections
import concurrent.futures
import json
import math
import os
import re
import signal
import socket
import sys
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
import sbtest  # noqa: E402
from sbtest import (BlackholePort, IntegrationTest, Nginx, SmtpSink, Switchboard,  # noqa: E402
                    can_connect, closed_within, free_port, http_get, metric_value,
                    wait_until)


def proxy_v1(src, sport, dst, dport):
    return f"PROXY TCP4 {src} {dst} {sport} {dport}\r\n".encode()


class TcpProxyTest(IntegrationTest):

    def backends(self, names=("b1", "b2", "b3"), proxy_protocol=False):
        servers = [{"name": n, "port": free_port(), "proxy_protocol": proxy_protocol}
                   for n in names]
        self.nginx = Nginx(self.procs, self.workdir, servers)
        return servers

    def start(self, servers_yaml, listener_extra="", pool_extra="", top_extra="",
              workers=1):
        self.port = free_port()
        self.admin = free_port()
        yaml = "\n".join([
            f"workers: {workers}",
            "" if "shutdown-grace" in top_extra else "shutdown-grace: 10s",
            f"admin: {{listen: 127.0.0.1:{self.admin}}}",
            top_extra,
            "pools:",
            "  web:",
            "    connect-timeout: 300ms",
            "    health: {check: none}",
            pool_extra,
            "    servers:",
            servers_yaml,
            "listeners:",
            "  vip:",
            f'    listen: ["127.0.0.1:{self.port}"]',
            "    protocol: tcp",
            "    pool: web",
            listener_extra,
        ]) + "\n"
        self.sb = Switchboard(self.procs, self.workdir, yaml, wait_ports=[self.port])

    @staticmethod
    def servers_yaml(servers):
        return "\n".join(f"      - {{address: 127.0.0.1:{s['port']}, name: {s['name']}}}"
                         for s in servers)

    def test_round_robin_spreads_exactly(self):
        servers = self.backends()
        self.start(self.servers_yaml(servers))
        counts = collections.Counter()
        for _ in range(30):
            code, body = http_get(self.port)
            self.assertEqual(code, 0)
            counts[body] += 1
        self.assertEqual(counts, {"b1": 10, "b2": 10, "b3": 10})
        log = self.sb.log()
        self.assertIn("access listener=vip", log)
        self.assertIn("outcome=ok", log)

    def test_refused_and_hung_servers_are_skipped_without_client_errors(self):
        servers = self.backends(("b1",))
        closed = free_port()
        hole = BlackholePort()
        self.addCleanup(hole.close)
        self.start(f"""\
      - {{address: 127.0.0.1:{closed}, name: closed}}
      - {{address: 127.0.0.1:{hole.port}, name: hung}}
      - {{address: 127.0.0.1:{servers[0]['port']}, name: b1}}""")
        with concurrent.futures.ThreadPoolExecutor(max_workers=10) as pool:
            results = list(pool.map(lambda _: http_get(self.port), range(300)))
        failures = [r for r in results if r != (0, "b1")]
        self.assertEqual(failures, [])
        # Which retries a connection needed depends on how the concurrent
        # requests interleave on the round-robin cursor; that some needed
        # them, and every one ended on b1, is the point.
        log = self.sb.log()
        self.assertRegex(log, r"retries=[12]")
        self.assertNotIn("outcome=exhausted", log)

    def test_all_servers_failing_closes_the_client(self):
        self.start(f"      - {{address: 127.0.0.1:{free_port()}, name: gone}}")
        code, _ = http_get(self.port)
        self.assertNotEqual(code, 0)
        self.assertIn("outcome=exhausted", self.sb.log())

    def test_half_close_still_delivers_the_reply(self):
        servers = self.backends(("b1",))
        self.start(self.servers_yaml(servers))
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            s.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
            s.shutdown(socket.SHUT_WR)
            data = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        self.assertIn(b"200 OK", data)
        self.assertTrue(data.endswith(b"b1\n"))

    def test_idle_timeout_closes_an_idle_connection(self):
        servers = self.backends(("b1",))
        self.start(self.servers_yaml(servers), listener_extra="    idle-timeout: 500ms")
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            started = time.monotonic()
            self.assertTrue(closed_within(s, 5))
            elapsed = time.monotonic() - started
        self.assertGreater(elapsed, 0.4)
        self.assertLess(elapsed, 3.0)  # nginx itself would wait 60s
        wait_until(lambda: "outcome=idle-timeout" in self.sb.log(), what="idle access log")

    def test_deny_and_allow_refuse_sources(self):
        servers = self.backends(("b1",))
        self.start(self.servers_yaml(servers), listener_extra="""\
    allow: ["127.0.0.0/30"]
    deny: ["127.0.0.2/32"]""")
        self.assertEqual(http_get(self.port, interface="127.0.0.1"), (0, "b1"))
        self.assertNotEqual(http_get(self.port, interface="127.0.0.2")[0], 0)  # denied
        self.assertNotEqual(http_get(self.port, interface="127.0.0.5")[0], 0)  # not allowed
        self.assertEqual(http_get(self.port, interface="127.0.0.3"), (0, "b1"))

    def test_max_connections_refuses_the_excess(self):
        servers = self.backends(("b1",))
        self.start(self.servers_yaml(servers), listener_extra="    max-connections: 2")
        # The start-up probe's connection must have ended before we count.
        wait_until(lambda: "access listener=vip" in self.sb.log(), what="probe session end")
        held = [socket.create_connection(("127.0.0.1", self.port), timeout=5) for _ in range(2)]
        for s in held:  # both are relayed, so both hold a slot
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertIn(b"b1", s.recv(4096))
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as extra:
            self.assertTrue(closed_within(extra, 3))
        held[0].close()
        # The slot frees once the proxy sees the close.
        wait_until(lambda: http_get(self.port) == (0, "b1"), what="a free slot")
        held[1].close()

    def test_max_connections_per_source(self):
        servers = self.backends(("b1",))
        self.start(self.servers_yaml(servers),
                   listener_extra="    max-connections-per-source: 1")
        s = socket.socket()
        s.bind(("127.0.0.2", 0))
        s.connect(("127.0.0.1", self.port))
        time.sleep(0.2)
        self.assertNotEqual(http_get(self.port, interface="127.0.0.2")[0], 0)
        self.assertEqual(http_get(self.port, interface="127.0.0.3"), (0, "b1"))
        s.close()

    def test_proxy_protocol_v2_reaches_the_backend(self):
        servers = self.backends(("b1",), proxy_protocol=True)
        self.start(self.servers_yaml(servers), pool_extra="    proxy-protocol: v2")
        self.assertEqual(http_get(self.port, interface="127.0.0.3"), (0, "b1"))
        wait_until(lambda: self.nginx.access_log("b1"), what="nginx access log")
        line = self.nginx.access_log("b1").strip()
        self.assertRegex(line, r"^127\.0\.0\.3:\d+ 127\.0\.0\.1$")

    def test_proxy_protocol_v1_reaches_the_backend(self):
        servers = self.backends(("b1",), proxy_protocol=True)
        self.start(self.servers_yaml(servers), pool_extra="    proxy-protocol: v1")
        self.assertEqual(http_get(self.port, interface="127.0.0.4"), (0, "b1"))
        wait_until(lambda: self.nginx.access_log("b1"), what="nginx access log")
        self.assertRegex(self.nginx.access_log("b1").strip(), r"^127\.0\.0\.4:\d+ ")

    def test_accept_proxy_takes_the_client_from_the_header(self):
        servers = self.backends(("b1",), proxy_protocol=True)
        self.start(self.servers_yaml(servers), pool_extra="    proxy-protocol: v2",
                   listener_extra="    accept-proxy: true\n    proxy-header-timeout: 1s")
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            # The header and the request in one segment: the bytes behind the
            # header must reach the server too.
            s.sendall(proxy_v1("192.0.2.7", 40000, "198.51.100.1", 25) +
                      b"GET / HTTP/1.0\r\n\r\n")
            data = s.recv(4096)
        self.assertIn(b"b1", data)
        wait_until(lambda: self.nginx.access_log("b1"), what="nginx access log")
        self.assertEqual(self.nginx.access_log("b1").split()[0], "192.0.2.7:40000")

    def test_accept_proxy_refuses_garbage_and_silence(self):
        servers = self.backends(("b1",))
        self.start(self.servers_yaml(servers),
                   listener_extra="    accept-proxy: true\n    proxy-header-timeout: 500ms")
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            s.sendall(b"GET / HTTP/1.0\r\n\r\n")  # no PROXY header
            self.assertTrue(closed_within(s, 2))
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            started = time.monotonic()
            self.assertTrue(closed_within(s, 3))  # silence: closed at the timeout
            self.assertGreater(time.monotonic() - started, 0.4)
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            s.sendall(b"PROXY TCP4 1.2.3.4 5.6.7.8 99999 1\r\n")  # bad port
            self.assertTrue(closed_within(s, 2))
        self.assertEqual(self.nginx.access_log("b1"), "")

    def test_a_trickling_or_silent_peer_is_closed_at_the_header_timeout(self):
        servers = self.backends(("b1",))
        self.start(self.servers_yaml(servers),
                   listener_extra="    accept-proxy: true\n    proxy-header-timeout: 1s")
        rejected = 'switchboard_listener_rejected_total{listener="vip",reason="proxy-header"}'
        # The start-up probe's connection (closed without a header) is counted first.
        wait_until(lambda: metric_value(self.admin, rejected) == 1, what="the probe counted")
        header = proxy_v1("192.0.2.7", 40000, "198.51.100.1", 80)
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            started = time.monotonic()
            closed = False
            for i in range(len(header)):  # one byte every 200ms: 9s for the whole header
                try:
                    s.sendall(header[i:i + 1])
                except OSError:
                    closed = True
                    break
                if closed_within(s, 0.2):
                    closed = True
                    break
            self.assertTrue(closed, "a peer trickling its header was not closed")
            self.assertLess(time.monotonic() - started, 5)
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            self.assertTrue(closed_within(s, 5))  # silent
        wait_until(lambda: metric_value(self.admin, rejected) == 3, what="both counted")
        self.assertEqual(self.nginx.access_log("b1"), "")

    def test_connections_waiting_for_a_header_count_against_max_connections(self):
        servers = self.backends(("b1",), proxy_protocol=True)
        self.start(self.servers_yaml(servers), pool_extra="    proxy-protocol: v2",
                   listener_extra="    accept-proxy: true\n    proxy-header-timeout: 30s\n"
                   "    max-connections: 2")
        rejected = 'switchboard_listener_rejected_total{listener="vip",reason="%s"}'
        wait_until(lambda: metric_value(self.admin, rejected % "proxy-header") == 1,
                   what="the start-up probe's connection to end")
        silent = [socket.create_connection(("127.0.0.1", self.port), timeout=5) for _ in range(2)]
        active = 'switchboard_listener_active_connections{listener="vip"}'
        wait_until(lambda: metric_value(self.admin, active) == 2, what="two waiting for a header")
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as extra:
            extra.sendall(proxy_v1("192.0.2.7", 40000, "198.51.100.1", 80) +
                          b"GET / HTTP/1.0\r\n\r\n")
            self.assertTrue(closed_within(extra, 3))  # long before the 30s header timeout
        self.assertEqual(metric_value(self.admin, rejected % "limit"), 1)
        # A header on a held one: admitted on the slot it holds.
        silent[0].sendall(proxy_v1("192.0.2.8", 40000, "198.51.100.1", 80) +
                          b"GET / HTTP/1.0\r\n\r\n")
        self.assertIn(b"b1", silent[0].recv(4096))
        for s in silent:
            s.close()
        wait_until(lambda: metric_value(self.admin, active) == 0, what="the slots freed")

    def test_accept_proxy_only_from_proxy_from_peers(self):
        # 127.0.0.1 may speak for clients, 127.0.0.2 may not: its header,
        # however plausible, is refused before a server sees anything.
        servers = self.backends(("b1",), proxy_protocol=True)
        self.start(self.servers_yaml(servers), pool_extra="    proxy-protocol: v2",
                   listener_extra='    accept-proxy: true\n    proxy-from: ["127.0.0.1/32"]')
        acl = 'switchboard_listener_rejected_total{listener="vip",reason="acl"}'
        before = metric_value(self.admin, acl) or 0
        with socket.create_connection(("127.0.0.1", self.port), timeout=5,
                                      source_address=("127.0.0.2", 0)) as s:
            s.sendall(proxy_v1("10.1.1.1", 40000, "198.51.100.1", 25) + b"GET / HTTP/1.0\r\n\r\n")
            self.assertTrue(closed_within(s, 2))
        wait_until(lambda: metric_value(self.admin, acl) == before + 1,
                   what="acl rejection counted")
        self.assertEqual(self.nginx.access_log("b1"), "")
        with socket.create_connection(("127.0.0.1", self.port), timeout=5,
                                      source_address=("127.0.0.1", 0)) as s:
            s.sendall(proxy_v1("192.0.2.7", 40000, "198.51.100.1", 25) + b"GET / HTTP/1.0\r\n\r\n")
            self.assertIn(b"b1", s.recv(4096))
        wait_until(lambda: self.nginx.access_log("b1"), what="nginx access log")
        self.assertEqual(self.nginx.access_log("b1").split()[0], "192.0.2.7:40000")

    def test_allow_applies_to_the_client_in_the_proxy_header(self):
        servers = self.backends(("b1",), proxy_protocol=True)
        self.start(self.servers_yaml(servers), pool_extra="    proxy-protocol: v2",
                   listener_extra='    accept-proxy: true\n    allow: ["192.0.2.0/24"]')
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            s.sendall(proxy_v1("198.51.100.9", 40000, "198.51.100.1", 25) +
                      b"GET / HTTP/1.0\r\n\r\n")
            self.assertTrue(closed_within(s, 2))
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            s.sendall(proxy_v1("192.0.2.7", 40000, "198.51.100.1", 25) + b"GET / HTTP/1.0\r\n\r\n")
            self.assertIn(b"b1", s.recv(4096))

    def test_client_first_byte_timeout_closes_a_silent_client(self):
        # The server speaks first (smtp-sink's banner) and the client never
        # answers: closed at the first-byte deadline, long before idle-timeout.
        sink = SmtpSink(self.procs)
        self.start(f"      - {{address: 127.0.0.1:{sink.port}, name: sink}}",
                   listener_extra="    client-first-byte-timeout: 500ms\n    idle-timeout: 1m")
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            started = time.monotonic()
            self.assertTrue(s.recv(512).startswith(b"220"))  # the server's banner came through
            self.assertTrue(closed_within(s, 5))
            elapsed = time.monotonic() - started
        self.assertGreater(elapsed, 0.3)
        self.assertLess(elapsed, 3.0)
        wait_until(lambda: "outcome=first-byte-timeout" in self.sb.log(),
                   what="first-byte-timeout in the access log")
        # A client that speaks in time is not affected by it afterwards.
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            s.recv(512)
            s.sendall(b"EHLO client.test\r\n")
            time.sleep(0.8)  # past the first-byte deadline
            s.sendall(b"QUIT\r\n")
            replies = b""
            while b"221" not in replies:
                data = s.recv(4096)
                if not data:
                    break
                replies += data
        self.assertIn(b"250", replies)
        self.assertIn(b"221", replies)

    def test_sigterm_drains_open_connections_then_exits_zero(self):
        servers = self.backends(("b1",))
        self.start(self.servers_yaml(servers))
        held = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        held.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertIn(b"b1", held.recv(4096))
        self.sb.proc.send_signal(signal.SIGTERM)
        wait_until(lambda: not can_connect(self.port), what="listener closed")
        with self.assertRaises(urllib.error.HTTPError) as e:  # draining: not healthy
            urllib.request.urlopen(f"http://127.0.0.1:{self.admin}/healthz", timeout=5)
        self.assertEqual(e.exception.code, 503)
        # The established (keep-alive) connection still works during the drain.
        held.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertIn(b"b1", held.recv(4096))
        self.assertIsNone(self.sb.proc.poll())
        held.close()
        self.assertEqual(self.sb.proc.wait(timeout=10), 0)

    def test_shutdown_past_the_grace_with_blocked_writes_exits_cleanly(self):
        # A client that asked for 32 MB and reads none of it: the relay holds
        # a buffer or a pipe with bytes it cannot write when the grace period
        # ends and the workers are torn down. Their pools must outlive the
        # relays (the sanitizer build reports a use after free otherwise).
        root = os.path.join(self.workdir, "www")
        os.makedirs(root)
        with open(os.path.join(root, "big"), "wb") as f:
            f.write(os.urandom(32 * 1024 * 1024))
        port = free_port()
        Nginx(self.procs, self.workdir, [{"name": "files", "port": port, "root": root}])
        self.start(f"      - {{address: 127.0.0.1:{port}, name: files}}",
                   top_extra="shutdown-grace: 500ms")
        held = []
        for _ in range(3):
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.connect(("127.0.0.1", self.port))
            s.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
            held.append(s)
        def bytes_in():
            with urllib.request.urlopen(f"http://127.0.0.1:{self.admin}/metrics", timeout=5) as r:
                return sum(float(line.split()[-1]) for line in r.read().decode().splitlines()
                           if line.startswith("switchboard_server_bytes_total{")
                           and 'direction="in"' in line)

        wait_until(lambda: bytes_in() > 3 * 64 * 1024,
                   what="the relay reading from the server while the client does not read")
        self.sb.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.sb.proc.wait(timeout=15), 0)
        self.assertIn("grace period over: closing 3 connections", self.sb.log())
        for s in held:
            s.close()

    def test_healthz_on_the_admin_listener(self):
        servers = self.backends(("b1",))
        self.start(self.servers_yaml(servers))
        with urllib.request.urlopen(f"http://127.0.0.1:{self.admin}/healthz", timeout=5) as r:
            self.assertEqual(r.status, 200)
            self.assertEqual(r.read(), b"ok\n")
        with self.assertRaises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(f"http://127.0.0.1:{self.admin}/nope", timeout=5)
        self.assertEqual(e.exception.code, 404)

    def test_drained_and_disabled_servers_get_no_new_connections(self):
        servers = self.backends(("b1", "b2", "b3"))
        self.start(f"""\
      - {{address: 127.0.0.1:{servers[0]['port']}, name: b1}}
      - {{address: 127.0.0.1:{servers[1]['port']}, name: b2, state: drain}}
      - {{address: 127.0.0.1:{servers[2]['port']}, name: b3, state: disabled}}""")
        counts = collections.Counter(http_get(self.port)[1] for _ in range(10))
        self.assertEqual(counts, {"b1": 10})

    def test_higher_tier_serves_when_the_lower_tier_refuses(self):
        servers = self.backends(("b1", "b2"))
        self.start(f"""\
      - {{address: 127.0.0.1:{free_port()}, name: primary}}
      - {{address: 127.0.0.1:{servers[0]['port']}, name: b1, priority: 1}}
      - {{address: 127.0.0.1:{servers[1]['port']}, name: b2, priority: 2}}""")
        counts = collections.Counter(http_get(self.port)[1] for _ in range(10))
        self.assertEqual(counts, {"b1": 10})

    def test_json_logs_are_one_object_per_line(self):
        servers = self.backends(("b1",))
        self.start(self.servers_yaml(servers), top_extra="log: {format: json, level: debug}")
        self.assertEqual(http_get(self.port), (0, "b1"))
        wait_until(lambda: '"type":"access"' in self.sb.log(), what="access line")
        self.sb.stop()
        lines = [line for line in self.sb.log().splitlines() if line.strip()]
        self.assertGreater(len(lines), 3)
        entries = [json.loads(line) for line in lines]
        for entry in entries:
            if entry.get("type") != "access":
                self.assertEqual(set(entry), {"time", "level", "msg"})
        # An access record is an object with typed fields, not a string to
        # parse again: what Loki or Elasticsearch index as they are.
        # The last one: the first is the start-up wait's connection.
        access = [e for e in entries if e.get("type") == "access"][-1]
        self.assertEqual(access["listener"], "vip")
        self.assertEqual(access["frontend"], f"127.0.0.1:{self.port}")
        self.assertRegex(access["client"], r"^127\.0\.0\.1:\d+$")
        self.assertEqual((access["pool"], access["server"], access["outcome"]), ("web", "b1", "ok"))
        self.assertEqual(access["upstream"], f"127.0.0.1:{servers[0]['port']}")
        for key in ("connection", "bytes_in", "bytes_out", "retries", "tried"):
            self.assertIsInstance(access[key], int, key)
        self.assertGreater(access["bytes_in"], 0)
        self.assertGreater(access["bytes_out"], 0)
        self.assertEqual((access["retries"], access["tried"]), (0, 1))
        for key in ("duration_ms", "connect_ms", "first_byte_ms"):
            self.assertIsInstance(access[key], float, key)
        # Accepted, then the server's answer, then the end.
        self.assertLessEqual(access["connect_ms"], access["first_byte_ms"])
        self.assertLessEqual(access["first_byte_ms"], access["duration_ms"])

    def test_text_access_lines_carry_the_same_fields(self):
        servers = self.backends(("b1",))
        self.start(self.servers_yaml(servers))
        self.assertEqual(http_get(self.port), (0, "b1"))
        wait_until(lambda: "access listener=vip" in self.sb.log(), what="access line")
        self.assertRegex(self.sb.log(),
                         r"access listener=vip client=127\.0\.0\.1:\d+ pool=web server=b1 "
                         r"upstream=127\.0\.0\.1:\d+ bytes_in=[1-9]\d* bytes_out=[1-9]\d* "
                         r"duration_ms=[\d.]+ connect_ms=[\d.]+ first_byte_ms=[\d.]+ outcome=ok "
                         r"retries=0 tried=1 "
                         rf"connection=\d+ frontend=127\.0\.0\.1:{self.port}\n")

    def test_a_server_that_sent_nothing_has_no_first_byte_time(self):
        servers = self.backends(("b1",))
        self.start(self.servers_yaml(servers))
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            client = f"client=127.0.0.1:{s.getsockname()[1]} "
        line = wait_until(lambda: next((ln for ln in self.sb.log().splitlines()
                                        if client in ln), None), what="the access line")
        self.assertIn(" bytes_out=0 ", line)
        self.assertIn(" connect_ms=", line)
        self.assertNotIn("first_byte_ms", line)

    def test_the_access_log_does_not_depend_on_the_level(self):
        servers = self.backends(("b1",))
        self.start(self.servers_yaml(servers), top_extra="log: {level: warn, access: true}")
        self.assertEqual(http_get(self.port), (0, "b1"))
        wait_until(lambda: "access listener=vip" in self.sb.log(), what="access line")
        lines = self.sb.log().splitlines()
        self.assertTrue(any("server=b1" in line for line in lines), lines)
        # level: warn still holds for everything else (the info lines at start).
        self.assertEqual([line for line in lines if " info " in line and " access " not in line],
                         [])

    def test_refused_connections_are_logged_a_few_lines_with_the_count(self):
        servers = self.backends(("b1",))
        self.start(self.servers_yaml(servers), listener_extra='    deny: ["127.0.0.0/8"]')
        started = time.monotonic()
        for _ in range(200):
            with socket.create_connection(("127.0.0.1", self.port), timeout=5) as c:
                self.assertTrue(closed_within(c, 5))
        seconds = time.monotonic() - started

        def counted():
            return sum(int(n) for n in re.findall(
                r"listener vip: refused (\d+) connections? \(acl\) in the last", self.sb.log()))
        # Summed up once a second: every refusal (the 200, and the start's
        # wait for the port) is told within a few seconds.
        refused = metric_value(
            self.admin, 'switchboard_listener_rejected_total{listener="vip",reason="acl"}')
        self.assertGreaterEqual(refused, 200)
        wait_until(lambda: counted() == refused, timeout=5, what="the refusals counted")
        lines = [line for line in self.sb.log().splitlines() if "listener vip: refused" in line]
        self.assertRegex(lines[0], r"refused 127\.0\.0\.1 \(acl\)")
        # The first as it came, then at most one a second (and one more for
        # the second the loop ended in): not 200.
        # (and the start-up's own refusal before `started`, and where the
        # ticks fall): a few more than the seconds, never one per refusal.
        self.assertLessEqual(len(lines), 5 + math.ceil(seconds), lines)

    def test_out_of_descriptors_pauses_instead_of_spinning(self):
        servers = self.backends(("b1",))
        self.port = free_port()
        self.admin = free_port()
        proc = sbtest.start_with_few_descriptors(self.procs, self.workdir, self.port, self.admin,
                                                 servers[0]["port"])
        wait_until(lambda: can_connect(self.port), what="switchboard")
        held = []
        for _ in range(60):
            held.append(socket.create_connection(("127.0.0.1", self.port), timeout=5))
        time.sleep(0.5)
        used = sbtest.cpu_seconds_used_in(proc.pid, 1.0)
        self.assertLess(used, 0.3, "accept loop spins while out of descriptors")
        for s in held:
            s.close()
        wait_until(lambda: http_get(self.port) == (0, "b1"), what="recovery")
        self.assertIn("pausing 100ms", sbtest.read_log(proc))
        self.assertIsNone(proc.poll())

    def test_two_workers_serve_with_reuseport(self):
        servers = self.backends(("b1", "b2"))
        self.start(self.servers_yaml(servers), workers=2)
        counts = collections.Counter(http_get(self.port)[1] for _ in range(40))
        self.assertEqual(set(counts), {"b1", "b2"})
        self.assertEqual(sum(counts.values()), 40)


if __name__ == "__main__":
    unittest.main()
