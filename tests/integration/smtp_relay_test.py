"""The SMTP relay VIP (protocol: smtp, passthrough) with real peers: a
connection is presented to the next server until one greets with 220
(smtp-sink, one answering 421, a closed port, a greeting of 10 000 lines),
nothing is lost under smtp-source, the client gets 421 4.3.2 when no server
greets, refused clients get no banner, a PROXY v2 header announcing 60 KiB
of TLVs is refused, and a real Postfix behind PROXY v1/v2 logs the client's
own address."""

import glob
import os
import socket
import struct
import subprocess
import sys
import threading
import time
import unittest
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(__file__))
import sbtest  # noqa: E402
from sbtest import (IntegrationTest, PostfixInstance, ScriptedServer, SmtpSink,  # noqa: E402
                    Switchboard, closed_within, free_port, metric_value, wait_until)


def smtp_config(port, admin, servers, pool_lines="", listener_lines="", access=False):
    servers_yaml = "\n".join(f"      - {{address: 127.0.0.1:{p}, name: {n}}}" for n, p in servers)
    return f"""\
workers: 2
admin: {{listen: 127.0.0.1:{admin}}}
log: {{access: {"true" if access else "false"}}}
pools:
  relay:
    retries: 2
{pool_lines}    servers:
{servers_yaml}
listeners:
  smtp-vip:
    listen: ["127.0.0.1:{port}"]
    protocol: smtp
    pool: relay
    smtp: {{mode: passthrough, banner-timeout: 2s}}
{listener_lines}"""


def greeting(port, source=None):
    with socket.create_connection(("127.0.0.1", port), timeout=5,
                                  source_address=(source, 0) if source else None) as c:
        c.settimeout(5)
        data = b""
        while not data.endswith(b"\r\n"):
            chunk = c.recv(1024)
            if not chunk:
                break
            data += chunk
        return data.decode(errors="replace")


def peak_rss_kib(pid):
    """The process's peak resident memory (VmHWM), in KiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmHWM for {pid}")


def proxy_v2(family_transport, body):
    """A PROXY v2 header (PROXY command) whose length field says len(body)."""
    return (b"\r\n\r\n\0\r\nQUIT\n" + bytes([0x21, family_transport]) +
            struct.pack(">H", len(body)) + body)


class SmtpRelayTest(IntegrationTest):

    def relay(self, servers, pool_lines="", listener_lines=""):
        port, admin = free_port(), free_port()
        self.sb = Switchboard(self.procs, self.workdir, smtp_config(
            port, admin, servers, "    balance: first-available\n    health: {check: none}\n"
            "    outlier: {consecutive-failures: 0}\n" + pool_lines, listener_lines),
            wait_ports=[port])
        self.admin = admin
        return port

    def test_an_endless_greeting_line_is_a_failure_not_a_hang(self):
        def endless(conn):
            conn.sendall(b"220 ")
            for _ in range(200):  # 20 000 bytes and never a line end
                conn.sendall(b"x" * 100)
                time.sleep(0.005)
        bad = ScriptedServer(endless)
        sink = SmtpSink(self.procs)
        port = self.relay([("endless", bad.port), ("sink", sink.port)])
        started = time.monotonic()
        g = greeting(port)
        self.assertTrue(g.startswith("220 ") and "xxxx" not in g, g[:80])
        self.assertLess(time.monotonic() - started, 1.5)  # at 512 bytes, not at the timeout
        sbtest.wait_for_log(self.sb, "reply line too long")
        bad.close()

    def test_a_10000_line_greeting_is_a_bad_banner_and_memory_stays_bounded(self):
        # No real server sends this (a scripted peer): a greeting of 10 000
        # lines (1.5 MB) that ends properly, its last line held back so that
        # 16 clients are in it at once. Past 100 lines it is a banner failure
        # and each client goes on to smtp-sink; what was read stays small.
        lines = b"".join(b"220-%05d " % i + b"x" * 136 + b"\r\n" for i in range(10000))

        def huge(conn):
            conn.sendall(lines)
            time.sleep(1)
            conn.sendall(b"220 at last\r\n")
            conn.recv(100)
        bad = ScriptedServer(huge)
        self.addCleanup(bad.close)
        sink = SmtpSink(self.procs)
        port = self.relay([("huge", bad.port), ("sink", sink.port)])
        before = peak_rss_kib(self.sb.proc.pid)
        with ThreadPoolExecutor(16) as pool:
            greetings = list(pool.map(lambda _: greeting(port), range(16)))
        for g in greetings:
            self.assertTrue(g.startswith("220 ") and "xxxx" not in g, g[:80])
        sbtest.wait_for_log(
            self.sb, "did not accept an smtp session: greeting: reply longer than 100 lines")
        # Holding each greeting whole would take 16 x 1.5 MB at least.
        self.assertLess(peak_rss_kib(self.sb.proc.pid) - before, 16 * 1024)
        self.assertIsNone(self.sb.proc.poll())

    def test_a_proxy_v2_header_announcing_60_kib_of_tlvs_is_refused(self):
        sink = SmtpSink(self.procs)
        port = self.relay([("sink", sink.port)],
                          listener_lines="    accept-proxy: true\n    proxy-header-timeout: 5s\n")
        rejected = 'switchboard_listener_rejected_total{listener="smtp-vip",reason="proxy-header"}'
        # The start-up's wait for the port connected and sent no header.
        wait_until(lambda: (metric_value(self.admin, rejected) or 0) >= 1,
                   what="the start-up's probe counted")
        before = metric_value(self.admin, rejected)
        addresses = bytes([192, 0, 2, 7, 198, 51, 100, 1, 0x9c, 0x40, 0, 25])
        with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
            # The fixed part and the addresses only: refused on the length
            # field, not at proxy-header-timeout after waiting for 60 KiB.
            c.sendall(proxy_v2(0x11, addresses + bytes(60 * 1024))[:16 + 12])
            self.assertTrue(closed_within(c, 2))
        wait_until(lambda: metric_value(self.admin, rejected) == before + 1,
                   what="the refusal counted as proxy-header")
        # A header with a few TLVs (ALPN, authority) is taken.
        tlvs = b"\x01\x00\x04smtp" + b"\x02\x00\x0bexample.com"
        with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
            c.sendall(proxy_v2(0x11, addresses + tlvs))
            c.settimeout(5)
            self.assertTrue(c.recv(100).startswith(b"220 "))
        self.assertEqual(metric_value(self.admin, rejected), before + 1)

    def test_a_multi_line_greeting_reaches_the_client_whole(self):
        def multi(conn):
            conn.sendall(b"220-mx.example.test ESMTP\r\n220-no UCE\r\n")
            time.sleep(0.2)  # the last line comes later: still one greeting
            conn.sendall(b"220 ready\r\n")
            conn.recv(100)
        server = ScriptedServer(multi)
        port = self.relay([("multi", server.port)])
        with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
            data = b""
            while not data.endswith(b"220 ready\r\n"):
                chunk = c.recv(1024)
                self.assertTrue(chunk, data)
                data += chunk
        self.assertEqual(data, b"220-mx.example.test ESMTP\r\n220-no UCE\r\n220 ready\r\n")
        server.close()

    def test_a_refusing_greeting_is_logged_escaped(self):
        # No real server sends 0xff in its banner: a scripted one refuses with
        # invalid UTF-8 and a bare CR; the next server greets the client.
        def refuse(conn):
            conn.sendall(b"554 \xff\xfe no\rX\r\n")
            conn.recv(100)
        bad = ScriptedServer(refuse)
        sink = SmtpSink(self.procs)
        port = self.relay([("bad", bad.port), ("sink", sink.port)])
        self.assertTrue(greeting(port).startswith("220 "))
        wait_until(lambda: "did not accept an smtp session" in self.sb.log(), what="the line")
        with open(self.sb.proc.log_path, "rb") as f:
            log = f.read()
        self.assertIn(b'did not accept an smtp session: greeting "554 \\xff\\xfe no\\x0dX"', log)
        self.assertNotIn(b"\xff", log)
        bad.close()

    def test_a_220_after_banner_timeout_is_too_late(self):
        def late(conn):
            time.sleep(2.5)
            conn.sendall(b"220 late.example ESMTP\r\n")
            time.sleep(1)
        slow = ScriptedServer(late)
        sink = SmtpSink(self.procs)
        port = self.relay([("late", slow.port), ("sink", sink.port)])
        g = greeting(port)
        self.assertTrue(g.startswith("220 ") and "late.example" not in g, g)
        sbtest.wait_for_log(self.sb, "no greeting within 2000ms")
        slow.close()

    def test_a_client_that_sends_nothing_is_closed_at_idle_timeout(self):
        sink = SmtpSink(self.procs)
        port = self.relay([("sink", sink.port)], listener_lines="    idle-timeout: 1s\n")
        with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
            self.assertTrue(c.recv(100).startswith(b"220"))
            started = time.monotonic()
            self.assertTrue(closed_within(c, 5))
            self.assertLess(time.monotonic() - started, 3)

    def test_a_client_that_never_reads_is_closed_at_idle_timeout(self):
        # The server greets, then talks on and on; the client never reads, so
        # everything stops once the buffers between them are full.
        cut = threading.Event()

        def talker(conn):
            conn.sendall(b"220 talker ESMTP\r\n")
            try:
                while True:
                    conn.sendall(b"250-more and more\r\n" * 512)
            except OSError:
                cut.set()
        server = ScriptedServer(talker)
        port = self.relay([("talker", server.port)], listener_lines="    idle-timeout: 1s\n")
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            self.assertTrue(cut.wait(10), "a client that never reads was not closed")
        server.close()

    def test_a_sink_killed_and_restarted_under_load_loses_no_accepted_message(self):
        dumps = []
        sinks = []
        os.chmod(self.workdir, os.stat(self.workdir).st_mode | 0o011)
        for i in range(3):
            d = os.path.join(self.workdir, f"dump{i}")
            os.makedirs(d)
            os.chmod(d, 0o777)
            dumps.append(d)
            sinks.append(SmtpSink(self.procs, args=["-d", os.path.join(d, "%H%M%S.")],
                                  name=f"sink{i}"))
        port, admin = free_port(), free_port()
        self.sb = Switchboard(self.procs, self.workdir, smtp_config(
            port, admin, [(f"sink{i}", s.port) for i, s in enumerate(sinks)],
            "    health: {check: smtp, interval: 300ms, timeout: 1s, rise: 2, fall: 1}\n"),
            wait_ports=[port])
        source = subprocess.Popen(["smtp-source", "-s", "20", "-m", "5000", "-f", "a@example.test",
                                   "-t", "b@example.test", f"127.0.0.1:{port}"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(1.0)
        sinks[1].stop()  # sessions on it now fail: they are the sender's to retry
        time.sleep(1.0)
        sinks[1] = SmtpSink(self.procs, port=sinks[1].port,
                            args=["-d", os.path.join(dumps[1], "%H%M%S.")], name="sink1-again")
        out, err = source.communicate(timeout=300)
        # smtp-source stops at its first failed session: report and resume
        # with what is left, every later session must succeed.
        failed = err.count("fatal")
        delivered = sum(len(os.listdir(d)) for d in dumps)
        print(f"\n5000 messages, sink1 killed after ~1s and restarted: {failed} in-flight "
              f"session failure(s) reported by smtp-source, {delivered} messages at the sinks",
              file=sys.stderr)
        if failed:
            # Sessions that start after the kill all succeed: the rest, sent now.
            rest = 5000 - delivered
            r = subprocess.run(["smtp-source", "-s", "20", "-m", str(rest), "-f", "a@example.test",
                                "-t", "b@example.test", f"127.0.0.1:{port}"],
                               capture_output=True, text=True, timeout=300)
            self.assertEqual((r.returncode, r.stderr.strip()), (0, ""))
            wait_until(lambda: sum(len(os.listdir(d)) for d in dumps) >= 5000, timeout=30,
                       what="every message at a sink")
        else:
            self.assertEqual(source.returncode, 0, err)
            wait_until(lambda: sum(len(os.listdir(d)) for d in dumps) >= 5000, timeout=30,
                       what="5000 messages at the sinks")
        self.assertEqual(sum(len(os.listdir(d)) for d in dumps), 5000)

    def test_500_messages_through_a_421_server_and_a_closed_port_lose_nothing(self):
        dump = os.path.join(self.workdir, "dump")
        os.makedirs(dump)
        # smtp-sink runs as nobody: it must reach and write the dump folder.
        os.chmod(self.workdir, os.stat(self.workdir).st_mode | 0o011)
        os.chmod(dump, 0o777)
        sink = SmtpSink(self.procs, args=["-d", os.path.join(dump, "%H%M%S.")])
        busy = SmtpSink(self.procs, args=["-Q", "CONNECT"], name="smtp-sink-421")
        closed = free_port()
        port, admin = free_port(), free_port()
        # No health checks and no ejection: every connection may meet the
        # failing servers first, so presentation to the next server is what
        # keeps mail flowing.
        self.sb = Switchboard(self.procs, self.workdir, smtp_config(
            port, admin, [("busy", busy.port), ("closed", closed), ("sink", sink.port)],
            "    health: {check: none}\n    outlier: {consecutive-failures: 0}\n"),
            wait_ports=[port])
        r = subprocess.run(["smtp-source", "-s", "20", "-m", "500", "-f", "a@example.test",
                            "-t", "b@example.test", f"127.0.0.1:{port}"],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual((r.returncode, r.stderr.strip()), (0, ""), r.stdout)
        wait_until(lambda: len(glob.glob(os.path.join(dump, "*"))) >= 500, timeout=20,
                   what="500 messages at the sink")
        time.sleep(0.3)
        self.assertEqual(len(glob.glob(os.path.join(dump, "*"))), 500)
        # The 421 server and the closed port were met and counted.
        import urllib.request
        with urllib.request.urlopen(f"http://127.0.0.1:{admin}/metrics", timeout=5) as m:
            metrics = m.read().decode()
        banner = [line for line in metrics.splitlines() if line.startswith(
            'switchboard_server_connect_failures_total'
            '{pool="relay",reason="banner",server="busy"}')]
        self.assertTrue(banner and float(banner[0].split()[-1]) > 0, banner)
        self.assertIn('switchboard_pool_retries_total{pool="relay"}', metrics)

    def test_the_client_sees_one_greeting_the_first_220(self):
        sink = SmtpSink(self.procs)
        busy = SmtpSink(self.procs, args=["-Q", "CONNECT"], name="smtp-sink-421")
        port, admin = free_port(), free_port()
        self.sb = Switchboard(self.procs, self.workdir, smtp_config(
            port, admin, [("busy", busy.port), ("sink", sink.port)],
            "    balance: first-available\n    health: {check: none}\n"
            "    outlier: {consecutive-failures: 0}\n"), wait_ports=[port])
        for _ in range(3):
            g = greeting(port)
            self.assertTrue(g.startswith("220 "), g)
            self.assertNotIn("421", g)

    def test_no_server_greets_the_client_gets_421_4_3_2(self):
        busy = SmtpSink(self.procs, args=["-Q", "CONNECT"], name="smtp-sink-421")
        port, admin = free_port(), free_port()
        self.sb = Switchboard(self.procs, self.workdir, smtp_config(
            port, admin, [("busy", busy.port), ("closed", free_port())],
            "    health: {check: none}\n    outlier: {consecutive-failures: 0}\n"),
            wait_ports=[port])
        self.assertEqual(greeting(port),
                         "421 4.3.2 Service not available, closing transmission channel\r\n")

    def test_a_server_that_never_greets_is_passed_over_after_banner_timeout(self):
        sink = SmtpSink(self.procs)
        mute = socket.socket()
        mute.bind(("127.0.0.1", 0))
        mute.listen(16)  # accepts (the kernel does), never says anything
        port, admin = free_port(), free_port()
        self.sb = Switchboard(self.procs, self.workdir, smtp_config(
            port, admin, [("mute", mute.getsockname()[1]), ("sink", sink.port)],
            "    balance: first-available\n    health: {check: none}\n"
            "    outlier: {consecutive-failures: 0}\n"), wait_ports=[port])
        started = time.monotonic()
        self.assertTrue(greeting(port).startswith("220 "))
        self.assertGreater(time.monotonic() - started, 1.8)  # banner-timeout: 2s
        mute.close()

    def test_the_greeting_read_while_trying_is_the_first_byte_in_the_access_log(self):
        sink = SmtpSink(self.procs)
        mute = socket.socket()
        mute.bind(("127.0.0.1", 0))
        mute.listen(16)
        port, admin = free_port(), free_port()
        self.sb = Switchboard(self.procs, self.workdir, smtp_config(
            port, admin, [("mute", mute.getsockname()[1]), ("sink", sink.port)],
            "    balance: first-available\n    health: {check: none}\n"
            "    outlier: {consecutive-failures: 0}\n", access=True), wait_ports=[port])
        self.assertTrue(greeting(port).startswith("220 "))
        line = wait_until(lambda: next((ln for ln in self.sb.log().splitlines()
                                        if "access listener=smtp-vip" in ln and "tried=2" in ln),
                                       None), what="the access line")
        fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
        self.assertEqual((fields["server"], fields["retries"]), ("sink", "1"), line)
        # The mute server held it for banner-timeout; the sink's greeting
        # came while it was tried, before the relay started.
        self.assertGreater(float(fields["connect_ms"]), 1800, line)
        self.assertEqual(fields["first_byte_ms"], fields["connect_ms"], line)
        self.assertLessEqual(float(fields["first_byte_ms"]), float(fields["duration_ms"]), line)
        mute.close()

    def test_refused_clients_get_no_banner(self):
        sink = SmtpSink(self.procs)
        port, admin = free_port(), free_port()
        self.sb = Switchboard(self.procs, self.workdir, smtp_config(
            port, admin, [("sink", sink.port)], "",
            '    deny: ["127.0.0.66/32"]\n'), wait_ports=[port])
        with socket.create_connection(("127.0.0.1", port), timeout=5,
                                      source_address=("127.0.0.66", 0)) as c:
            self.assertTrue(closed_within(c, 2))
        self.assertTrue(greeting(port, source="127.0.0.5").startswith("220 "))

    def test_postfix_behind_proxy_protocol_logs_the_real_client(self):
        postfix = PostfixInstance(self.procs, self.workdir, upstream_proxy="haproxy")
        for version in ("v2", "v1"):
            port, admin = free_port(), free_port()
            sb = Switchboard(self.procs, self.workdir, smtp_config(
                port, admin, [("postfix", postfix.port)],
                f"    proxy-protocol: {version}\n    health: {{check: none}}\n"),
                wait_ports=[port], name=f"switchboard-{version}")
            client = {"v2": "127.0.0.7", "v1": "127.0.0.8"}[version]
            r = subprocess.run(["swaks", "--server", f"127.0.0.1:{port}", "--local-interface",
                                client, "--from", "a@example.test", "--to", "b@example.test",
                                "--timeout", "10"], capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            wait_until(lambda: f"[{client}]" in postfix.maillog(), timeout=10,
                       what=f"Postfix logging {client} ({version})")
            sb.stop()


if __name__ == "__main__":
    unittest.main()
