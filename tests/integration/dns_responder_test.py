"""The `protocol: dns` listener (docs/configuration.md): dig and kdig against switchboard's
responder, with smtp-sink backends on their own loopback addresses whose
health decides the answers."""

import collections
import os
import random
import re
import select
import socket
import struct
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from sbtest import (IntegrationTest, admin_call, closed_within, metric_value, SmtpSink,  # noqa: E402
                    Switchboard, free_port, free_port_tcp_udp, wait_until)

HOSTS = {"mx1.example.test": "127.0.0.11", "mx2.example.test": "127.0.0.12",
         "mx3.example.test": "127.0.0.13"}


class DnsResponderTest(IntegrationTest):

    def start(self, extra_servers=0, when_all_down="all", max_answers=8, idle_timeout="5m"):
        self.sinks = {name: SmtpSink(self.procs, host=ip, name=name)
                      for name, ip in HOSTS.items()}
        servers = "\n".join(
            f"      - {{address: {ip}:{self.sinks[n].port}, name: {n}"
            + (", priority: 1" if n == "mx3.example.test" else "") + "}"
            for n, ip in HOSTS.items())
        # Many servers (for TC): names s<i>.example.test on 127.0.1.<i>.
        many = "\n".join(f"      - {{address: 127.0.1.{i}:25, name: s{i}.example.test}}"
                         for i in range(1, extra_servers + 1))
        self.dns = free_port_tcp_udp()
        self.admin = free_port()
        many_pool = f"""\
  many:
    health: {{check: none}}
    servers:
{many}
""" if extra_servers else ""
        many_records = """\
        - {name: many.example.test, type: MX, pool: many, ttl: 60}
        - {name: many-a.example.test, type: A, pool: many, ttl: 60}
""" if extra_servers else ""
        config = f"""\
workers: 2
admin: {{listen: 127.0.0.1:{self.admin}}}
pools:
  edge:
    health: {{check: tcp, interval: 200ms, timeout: 200ms, rise: 2, fall: 2}}
    servers:
{servers}
{many_pool}listeners:
  dns:
    listen: ["127.0.0.1:{self.dns}"]
    protocol: dns
    idle-timeout: {idle_timeout}
    dns:
      records:
        - {{name: mail.example.test, type: A, pool: edge, ttl: 30}}
        - {{name: example.test, type: MX, pool: edge, ttl: 60, preference: 10}}
        - {{name: _smtp._tcp.example.test, type: SRV, pool: edge, ttl: 20}}
{many_records}      rotate: true
      max-answers: {max_answers}
      when-all-down: {when_all_down}
"""
        self.sb = Switchboard(self.procs, self.workdir, config, wait_ports=[self.dns])

    def dig(self, name, rtype="A", *opts):
        r = subprocess.run(["dig", "@127.0.0.1", "-p", str(self.dns), name, rtype, "+tries=1",
                            "+time=3", *opts], capture_output=True, text=True, timeout=15)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return r.stdout

    def short(self, name, rtype="A", *opts):
        return self.dig(name, rtype, "+short", *opts).split("\n")[0:-1]

    def status(self, text):
        return re.search(r"status: (\w+)", text).group(1)

    def metric(self, series):
        return metric_value(self.admin, series)

    # --- answers -------------------------------------------------------------

    def test_rotation_puts_each_server_first_equally(self):
        self.start()
        first = collections.Counter()
        for _ in range(30):
            answers = self.short("mail.example.test")
            self.assertEqual(sorted(answers), sorted(HOSTS.values()))
            first[answers[0]] += 1
        # Two workers each rotate on their own: about 10 each, never starved.
        self.assertEqual(set(first), set(HOSTS.values()))
        for ip, n in first.items():
            self.assertGreaterEqual(n, 5, first)
        text = self.dig("mail.example.test")
        self.assertIn("flags: qr aa rd", text)
        self.assertRegex(text, r"mail\.example\.test\.\s+30\s+IN\s+A\s+127\.0\.0\.1[123]")

    def test_a_dead_backend_leaves_the_answers_and_returns(self):
        self.start()
        self.sinks["mx2.example.test"].stop()
        # fall 2 x 200ms + 200ms timeout, plus slack for a busy machine
        wait_until(lambda: "127.0.0.12" not in self.short("mail.example.test"), 5,
                   what="the dead server to leave the answers")
        self.assertEqual(sorted(self.short("mail.example.test")), ["127.0.0.11", "127.0.0.13"])
        self.assertNotIn("mx2.example.test", self.dig("example.test", "MX"))
        self.sinks["mx2.example.test"] = SmtpSink(self.procs, host="127.0.0.12",
                                                  port=self.sinks["mx2.example.test"].port,
                                                  name="mx2-again")
        wait_until(lambda: "127.0.0.12" in self.short("mail.example.test"), 5,
                   what="the server to return after rise")

    def test_all_down_answers_every_server_or_none(self):
        self.start(when_all_down="all")
        for s in self.sinks.values():
            s.stop()
        wait_until(lambda: self.metric('switchboard_dns_all_down_answers_total{listener="dns"}')
                   or (self.short("mail.example.test") and False), 5, interval=0.2,
                   what="an all-down answer")
        self.assertEqual(sorted(self.short("mail.example.test")), sorted(HOSTS.values()))

    def test_when_all_down_none_gives_noerror_and_no_answers(self):
        self.start(when_all_down="none")
        for s in self.sinks.values():
            s.stop()
        wait_until(lambda: not self.short("mail.example.test"), 5, what="an empty answer")
        self.assertEqual(self.status(self.dig("mail.example.test")), "NOERROR")

    def test_mx_preferences_and_glue(self):
        self.start()
        text = self.dig("example.test", "MX")
        mx = sorted(re.findall(r"IN\s+MX\s+(\d+) (\S+)", text))
        self.assertEqual(mx, [("10", "mx1.example.test."), ("10", "mx2.example.test."),
                              ("20", "mx3.example.test.")])  # + 10 x priority tier 1
        glue = dict(re.findall(r"^(mx\d\.example\.test)\.\s+60\s+IN\s+A\s+(\S+)$", text, re.M))
        self.assertEqual(glue, {n: ip for n, ip in HOSTS.items()})

    def test_srv_fields(self):
        self.start()
        text = self.dig("_smtp._tcp.example.test", "SRV")
        srv = sorted(re.findall(r"IN\s+SRV\s+(\d+) (\d+) (\d+) (\S+)", text))
        expected = sorted((("1" if n == "mx3.example.test" else "0"), "1",
                           str(self.sinks[n].port), n + ".") for n in HOSTS)
        self.assertEqual(srv, expected)

    def test_refused_for_other_names_nodata_for_other_types(self):
        self.start()
        self.assertEqual(self.status(self.dig("other.example.test")), "REFUSED")
        nodata = self.dig("mail.example.test", "MX")
        self.assertEqual(self.status(nodata), "NOERROR")
        self.assertIn("ANSWER: 0", nodata)
        self.assertIn(" aa", nodata)
        self.assertGreaterEqual(
            self.metric('switchboard_dns_queries_total{listener="dns",qtype="A",rcode="REFUSED"}'),
            1)

    def test_edns_and_truncation_with_many_records(self):
        self.start(extra_servers=40, max_answers=64)
        plain = self.dig("many.example.test", "MX", "+noedns", "+ignore")
        self.assertIn(" tc", plain.split("flags:")[1].split(";")[0])
        self.assertIn("ANSWER: 0", plain)
        # dig retries over TCP by itself and gets all 40.
        full = self.dig("many.example.test", "MX", "+noedns")
        self.assertEqual(len(re.findall(r"^many\.example\.test\.\s+60\s+IN\s+MX", full, re.M)), 40)
        # With EDNS (1232 bytes) the A set fits and the OPT record comes back.
        edns = self.dig("many-a.example.test", "A", "+edns=0", "+bufsize=1232")
        self.assertIn("OPT PSEUDOSECTION", edns)
        self.assertIn("udp: 1232", edns)
        self.assertEqual(len(re.findall(r"^many-a\.example\.test\.\s+60\s+IN\s+A\s", edns, re.M)),
                         40)
        self.assertGreaterEqual(self.metric('switchboard_dns_truncated_total{listener="dns"}'), 1)

    def test_tcp_with_two_queries_on_one_connection(self):
        self.start()
        r = subprocess.run(["kdig", "@127.0.0.1", "-p", str(self.dns), "+tcp", "+keepopen",
                            "mail.example.test", "A", "example.test", "MX"],
                           capture_output=True, text=True, timeout=15)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(len(re.findall(r"status: NOERROR", r.stdout)), 2, r.stdout)
        # The same over a raw socket: two framed queries, two answers.
        s = socket.create_connection(("127.0.0.1", self.dns), timeout=5)
        for qid in (1, 2):
            q = query(qid, "mail.example.test", 1)
            s.sendall(struct.pack("!H", len(q)) + q)
            (n,) = struct.unpack("!H", recv_exact(s, 2))
            answer = recv_exact(s, n)
            self.assertEqual(struct.unpack("!H", answer[:2])[0], qid)
            self.assertEqual(struct.unpack("!H", answer[6:8])[0], 3)
        s.close()

    def test_reload_changes_the_records_and_keeps_the_sockets(self):
        self.start()
        self.assertEqual(self.status(self.dig("new.example.test")), "REFUSED")
        with open(self.sb.path) as f:
            text = f.read()
        with open(self.sb.path, "w") as f:
            f.write(text.replace(
                "        - {name: mail.example.test, type: A, pool: edge, ttl: 30}\n",
                "        - {name: mail.example.test, type: A, pool: edge, ttl: 30}\n"
                "        - {name: new.example.test, type: A, pool: edge, ttl: 5}\n"))
        code, _ = admin_call(self.admin, "POST", "/reload")
        self.assertEqual(code, 200)
        self.assertEqual(sorted(self.short("new.example.test")), sorted(HOSTS.values()))
        self.assertRegex(self.dig("new.example.test"), r"new\.example\.test\.\s+5\s+IN\s+A")
        t = self.dig("mail.example.test", "A", "+tcp")
        self.assertEqual(self.status(t), "NOERROR")

    # --- bad input -----------------------------------------------------------

    def test_bad_packets_get_formerr_or_nothing_and_are_counted(self):
        self.start()
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.settimeout(1)
        header = struct.pack("!HHHHHH", 7, 0x0100, 1, 0, 0, 0)
        cases = {
            "truncated": header + b"\x04mail",
            "pointer loop": header + b"\xc0\x0c\x00\x01\x00\x01",
            "label over 63": header + b"\x40" + b"a" * 64 + b"\x00\x00\x01\x00\x01",
            "name over 255": header + (b"\x3f" + b"b" * 63) * 4 + b"\x00\x00\x01\x00\x01",
            "qdcount 0": struct.pack("!HHHHHH", 7, 0x0100, 0, 0, 0, 0),
            "qdcount 2": struct.pack("!HHHHHH", 7, 0x0100, 2, 0, 0, 0) + query(0, "a.test", 1)[12:] * 2,
        }
        for what, packet in cases.items():
            u.sendto(packet, ("127.0.0.1", self.dns))
            answer, _ = u.recvfrom(4096)
            self.assertEqual(answer[3] & 0x0F, 1, what)  # FORMERR
            self.assertEqual(struct.unpack("!H", answer[:2])[0], 7, what)
        rng = random.Random(5)
        for _ in range(500):
            u.sendto(bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 80))),
                     ("127.0.0.1", self.dns))
        # Garbage over TCP: a length that promises more than comes, then a close.
        t = socket.create_connection(("127.0.0.1", self.dns), timeout=5)
        t.sendall(b"\x00\x30" + bytes(rng.getrandbits(8) for _ in range(20)))
        t.close()
        t = socket.create_connection(("127.0.0.1", self.dns), timeout=5)
        t.sendall(struct.pack("!H", 3) + b"abc")  # shorter than a header: dropped, closed
        self.assertEqual(t.recv(10), b"")
        t.close()
        # Still answering, and it counted.
        self.assertEqual(sorted(self.short("mail.example.test")), sorted(HOSTS.values()))
        formerr = sum(self.metric(f'switchboard_dns_queries_total{{listener="dns",qtype="{t}",'
                                  f'rcode="FORMERR"}}') for t in ("OTHER",))
        self.assertGreaterEqual(formerr, len(cases))
        self.assertGreaterEqual(self.metric('switchboard_dns_dropped_total{listener="dns"}'), 1)
        self.assertIsNone(self.sb.proc.poll())
        u.close()

    def test_tcp_query_over_512_bytes_closes_the_connection_and_is_counted(self):
        self.start()
        dropped = self.metric('switchboard_dns_dropped_total{listener="dns"}')
        # A valid query padded (EDNS padding, RFC 7830) to 512 bytes is answered...
        t = socket.create_connection(("127.0.0.1", self.dns), timeout=5)
        q = padded_query(9, "mail.example.test", 1, 512)
        t.sendall(struct.pack("!H", len(q)) + q)
        (n,) = struct.unpack("!H", recv_exact(t, 2))
        self.assertEqual(struct.unpack("!H", recv_exact(t, n)[:2])[0], 9)
        # ...one of 600 bytes on the same connection closes it, unanswered.
        q = padded_query(10, "mail.example.test", 1, 600)
        t.sendall(struct.pack("!H", len(q)) + q)
        self.assertTrue(closed_within(t, 5), "answered a 600-byte query")
        t.close()
        wait_until(lambda: self.metric('switchboard_dns_dropped_total{listener="dns"}')
                   == dropped + 1, 5, what="the oversize query to be counted as dropped")
        # Still answering, over TCP and UDP.
        self.assertEqual(sorted(self.short("mail.example.test", "A", "+tcp")),
                         sorted(HOSTS.values()))
        self.assertEqual(sorted(self.short("mail.example.test")), sorted(HOSTS.values()))

    def test_tcp_client_that_never_reads_is_closed_at_the_write_deadline(self):
        # Answers of about 2 KB (40 MX records and their glue) to a client
        # with a 4 KiB receive buffer that never reads: the server's write
        # blocks once the kernel's buffers are full; idle-timeout bounds it.
        self.start(extra_servers=40, max_answers=64, idle_timeout="3s")
        active = 'switchboard_listener_active_connections{listener="dns"}'
        c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        c.connect(("127.0.0.1", self.dns))
        c.setblocking(False)
        q = query(3, "many.example.test", 15)
        pending, queued = b"", 0
        while queued < 5000:  # 10 MB of answers: more than any buffer holds
            if not pending:
                pending, queued = (struct.pack("!H", len(q)) + q) * 50, queued + 50
            try:
                pending = pending[c.send(pending):]
            except BlockingIOError:
                if not select.select([], [c], [], 0.5)[1]:
                    break  # the server reads no more: its write is stuck
            except OSError:
                break  # closed already
        self.assertGreater(queued, 100)
        # Others are answered meanwhile, over TCP and UDP.
        self.assertEqual(sorted(self.short("mail.example.test", "A", "+tcp")),
                         sorted(HOSTS.values()))
        self.assertEqual(sorted(self.short("mail.example.test")), sorted(HOSTS.values()))
        # The slot is freed at the deadline (3s; 20s allows for a busy machine).
        wait_until(lambda: self.metric(active) == 0, 20,
                   what="the server to close a client that does not read")
        self.assertGreaterEqual(self.metric('switchboard_dns_dropped_total{listener="dns"}'), 1)
        # The client sees a reset (or, after the answers it was sent, the end).
        c.setblocking(True)
        self.assertTrue(closed_after_reading(c, 10), "still open for the client")
        c.close()
        self.assertEqual(self.status(self.dig("example.test", "MX", "+tcp")), "NOERROR")


def query(qid, name, qtype):
    q = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\x00" + struct.pack("!HH", qtype, 1)


def padded_query(qid, name, qtype, size):
    """A query with an OPT record whose padding option makes it `size` bytes."""
    q = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 1) + query(qid, name, qtype)[12:]
    pad = size - len(q) - 11 - 4
    return q + b"\x00" + struct.pack("!HHIH", 41, 1232, 0, 4 + pad) + \
        struct.pack("!HH", 12, pad) + b"\x00" * pad


def closed_after_reading(sock, seconds):
    """True when `sock` reaches its end or a reset within `seconds`, reading
    (and dropping) whatever arrives before."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        sock.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            if sock.recv(65536) == b"":
                return True
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False
    return False


def recv_exact(s, n):
    out = b""
    while len(out) < n:
        chunk = s.recv(n - len(out))
        if not chunk:
            raise AssertionError("closed early")
        out += chunk
    return out


if __name__ == "__main__":
    unittest.main()
