#!/usr/bin/env python3
"""The sip listener (docs/configuration.md, `sip`): a transaction-stateful
proxy in front of a pool of SIP servers, with real peers on loopback. sipp
plays callers and servers (the scenarios in tests/integration/sip/, each
checked sipp to sipp without a proxy), sipsak asks the proxy itself, and
SIP messages made here by hand check what sipp cannot express (which server
saw which message, malformed input).

What the proxy must do: answer an INVITE with 100 Trying at once, add its
own Via (and Record-Route when asked) and take the Via off the responses,
present a call that fails (a final response in failover-on, or no
provisional response within invite-timeout) to the next server and ACK or
cancel the failed branch itself, pass 3xx back, answer 503 with Retry-After
when every server failed, absorb retransmissions, send CANCEL and every
in-dialog request to the server that answered, answer OPTIONS for itself,
refuse what is malformed, and count calls by result."""

import os
import random
import re
import signal
import socket
import subprocess
import threading
import time
import unittest

import sbtest
from sbtest import (IntegrationTest, NamedServer, Switchboard, admin_call, can_connect,
                    free_port, free_port_tcp_udp, metric_sum, read_log, tcp_listening,
                    wait_until)

SCENARIOS = os.path.join(sbtest.SOURCE_DIR, "tests", "integration", "sip")
LISTENER = "um-vip"
CALLS = "switchboard_sip_calls_total"
# Two SIP servers of equal priority and weight, both on 127.0.0.1.
SRV_ZONE = """\
$TTL 60
@        IN SOA ns.um.test. hostmaster.um.test. (1 60 60 600 60)
         IN NS  ns.um.test.
ns       IN A   127.0.0.1
_sip._udp IN SRV 10 50 {port1} um1.um.test.
_sip._udp IN SRV 10 50 {port2} um2.um.test.
um1      IN A   127.0.0.1
um2      IN A   127.0.0.1
"""


def free_port_4_digits():
    """A port between 7000 and 9999 free for TCP and UDP. sipsak 0.9.8.1
    drops the last digit of a 5-digit port in the URI it is given (its
    OPTIONS for sip:127.0.0.1:26891 names sip:127.0.0.1:2689)."""
    for _ in range(200):
        port = random.randrange(7000, 10000)
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t, \
                    socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                t.bind(("127.0.0.1", port))
                u.bind(("127.0.0.1", port))
                return port
        except OSError:
            continue
    raise AssertionError("no free port between 7000 and 9999")


def udp_bound(port):
    """True when some IPv4 UDP socket is bound to `port` (seen in
    /proc/net/udp: a probe datagram would be a call to a sipp server)."""
    with open("/proc/net/udp") as f:
        next(f)
        return any(int(cols[1].split(":")[1], 16) == port
                   for cols in (line.split() for line in f))


# --- sipp ------------------------------------------------------------------

# -bind_local: 127.0.0.1 only. Its UDP control socket would take 0.0.0.0:8888,
# shared by every sipp: -ci/-cp. The watchdog ends a run after a few main-loop
# stalls, which a loaded machine must not cause. -nostdin: no keyboard; in
# the foreground without a tty sipp prints only its final screens.
SIPP_COMMON = ["-i", "127.0.0.1", "-bind_local", "-nostdin",
               "-watchdog_minor_maxtriggers", "1000000",
               "-watchdog_major_maxtriggers", "1000000"]


def sipp_transport(transport):
    return {"udp": "u1", "tcp": "t1"}[transport]


def scenario_args(scenario):
    """sipp's arguments for a built-in scenario ("uac"), a file of
    tests/integration/sip ("uas_answer.xml") or a path."""
    if scenario in ("uac", "uas"):
        return ["-sn", scenario]
    return ["-sf", scenario if os.path.isabs(scenario) else os.path.join(SCENARIOS, scenario)]


class SippStats:
    """What a sipp run printed when it ended: calls that succeeded and failed,
    the scenario's message table (one row per step: name, messages,
    retransmissions), dropped messages, and its error log."""

    ROW = re.compile(r"^\s*(?:(?:<-+|-+>)\s+)?([A-Z]+|\d{3})\s+(?:(?:<-+|-+>)\s+)?"
                     r"(?:[EB]-RTD\d+\s+)?(\d+)\s+(\d+)")

    def __init__(self, name, output, returncode, errors):
        self.name = name
        self.output = output
        self.returncode = returncode
        self.errors = errors

        def cumulative(counter):
            found = re.findall(counter + r"\s*\|\s*\d+\s*\|\s*(\d+)", output)
            return int(found[-1]) if found else None

        self.successful = cumulative("Successful call")
        self.failed = cumulative("Failed call")
        dead = re.findall(r"(\d+) dead call msg", output)
        self.dead_call_messages = int(dead[-1]) if dead else None
        out_of_call = re.findall(r"(\d+) out-of-call msg", output)
        self.out_of_call_messages = int(out_of_call[-1]) if out_of_call else 0
        self.rows = []
        table = output.rfind("Messages  Retrans")
        if table >= 0:
            for line in output[table:].splitlines()[1:]:
                if line.startswith("-----"):
                    break
                m = self.ROW.match(line)
                if m:
                    self.rows.append((m.group(1), int(m.group(2)), int(m.group(3))))

    def count(self, name, nth=0):
        """Messages of the `nth` step named `name` ("INVITE", "200")."""
        counts = [n for step, n, _ in self.rows if step == name]
        return counts[nth] if nth < len(counts) else 0

    def describe(self):
        table = self.output[self.output.rfind("Messages  Retrans"):] \
            if "Messages  Retrans" in self.output else self.output[-3000:]
        return (f"--- sipp {self.name} (exit {self.returncode}) ---\n{table[:4000]}\n"
                f"--- its errors ---\n{self.errors[:3000]}")


def _errors(path):
    if not os.path.exists(path):
        return ""
    with open(path, errors="replace") as f:
        return f.read()


class SippServer:
    """A sipp server (UAS) on 127.0.0.1:port. stop() ends it the soft way
    (SIGUSR1: no new calls, exit when the calls in progress end) and returns
    its SippStats."""

    def __init__(self, test, scenario, transport="udp", name="uas"):
        self.name = name
        self.transport = transport
        self.port = free_port_tcp_udp()
        self.errors_path = os.path.join(test.workdir, f"{name}.errors")
        self.messages_path = os.path.join(test.workdir, f"{name}.messages")
        self.stats = None
        self.proc = test.procs.start(
            ["sipp", *scenario_args(scenario), *SIPP_COMMON, "-p", str(self.port),
             "-t", sipp_transport(transport), "-ci", "127.0.0.1", "-cp", str(free_port_tcp_udp()),
             "-trace_err", "-error_file", self.errors_path,
             "-trace_msg", "-message_file", self.messages_path],
            name)
        ready = tcp_listening if transport == "tcp" else udp_bound
        wait_until(lambda: self.proc.poll() is not None or ready(self.port), timeout=15,
                   what=f"sipp {name} on {transport} {self.port}")
        if self.proc.poll() is not None:
            raise AssertionError(f"sipp {name} exited {self.proc.returncode}:\n" +
                                 read_log(self.proc))

    def stop(self):
        if self.stats is None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGUSR1)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
            self.stats = SippStats(self.name, read_log(self.proc), self.proc.returncode,
                                   _errors(self.errors_path))
        return self.stats


def run_caller(test, scenario, proxy_port, transport="udp", calls=10, rate=50, name="uac",
               extra=()):
    """sipp as a caller (UAC): `calls` calls at `rate` a second to the proxy,
    in the foreground, at most 30 s (-timeout_error: a run cut short fails).
    Exit 0 means every call went as the scenario says."""
    errors = os.path.join(test.workdir, f"{name}.errors")
    messages = os.path.join(test.workdir, f"{name}.messages")
    args = ["sipp", *scenario_args(scenario), f"127.0.0.1:{proxy_port}", *SIPP_COMMON,
            "-p", str(free_port_tcp_udp()), "-t", sipp_transport(transport),
            "-ci", "127.0.0.1", "-cp", str(free_port_tcp_udp()),
            "-m", str(calls), "-r", str(rate), "-rp", "1000",
            "-timeout", "30s", "-timeout_error",
            "-trace_err", "-error_file", errors, "-trace_msg", "-message_file", messages,
            *extra]
    r = subprocess.run(args, cwd=test.workdir, stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=60)
    output = r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")
    with open(os.path.join(test.workdir, f"{name}.log"), "w") as f:
        f.write(output)
    stats = SippStats(name, output, r.returncode, _errors(errors))
    stats.messages_path = messages
    return stats


# --- SIP messages by hand ----------------------------------------------------

COMPACT = {"v": "via", "i": "call-id", "f": "from", "t": "to", "l": "content-length",
           "m": "contact", "c": "content-type", "k": "supported", "s": "subject"}


class SipMessage:
    """A parsed SIP message: start line, headers (list of (name, value), names
    as sent), body."""

    def __init__(self, raw):
        self.raw = raw
        head, _, self.body = raw.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        self.start = lines[0]
        self.headers = []
        for line in lines[1:]:
            name, _, value = line.partition(":")
            self.headers.append((name.strip(), value.strip()))

    @property
    def status(self):
        parts = self.start.split()
        return int(parts[1]) if parts[0] == "SIP/2.0" else None

    @property
    def method(self):
        return None if self.start.startswith("SIP/2.0") else self.start.split()[0]

    def all(self, name):
        """Every value of a header, a comma-separated Via split in its parts."""
        name = name.lower()
        values = [v for n, v in self.headers if COMPACT.get(n.lower(), n.lower()) == name]
        if name in ("via", "record-route", "route"):
            values = [part.strip() for v in values for part in v.split(",")]
        return values

    def header(self, name):
        values = self.all(name)
        return values[0] if values else None

    @property
    def call_id(self):
        return self.header("call-id")

    @property
    def cseq_method(self):
        cseq = self.header("cseq")
        return cseq.split()[1] if cseq else None

    def branch(self, index=0):
        """The branch of the `index`th Via (0: the top one)."""
        vias = self.all("via")
        m = re.search(r";\s*branch=([^;\s]+)", vias[index]) if index < len(vias) else None
        return m.group(1) if m else None

    def __repr__(self):
        return self.raw.decode("latin-1")


def sip_request(method, call_id, branch, via_port, uri="sip:um@127.0.0.1", cseq=1,
                cseq_method=None, max_forwards=70, to_tag=None, headers=(), body=b"",
                transport="UDP", via=True, content_length=None):
    """A request from a caller on 127.0.0.1:via_port, the bytes to send."""
    lines = [f"{method} {uri} SIP/2.0"]
    if via:
        lines.append(f"Via: SIP/2.0/{transport} 127.0.0.1:{via_port};branch={branch}")
    if max_forwards is not None:
        lines.append(f"Max-Forwards: {max_forwards}")
    lines += ["From: <sip:caller@127.0.0.1>;tag=sbtest-caller",
              "To: <sip:um@127.0.0.1>" + (f";tag={to_tag}" if to_tag else ""),
              f"Call-ID: {call_id}", f"CSeq: {cseq} {cseq_method or method}",
              f"Contact: <sip:caller@127.0.0.1:{via_port}>", *headers,
              f"Content-Length: {len(body) if content_length is None else content_length}",
              "", ""]
    return "\r\n".join(lines).encode("latin-1") + body


def sip_response(request, status, reason, to_tag="sbtest-server", headers=(), body=b""):
    """A server's response to `request` (a SipMessage): its Via, From, To
    (with a tag), Call-ID and CSeq, and its Record-Route on 18x and 2xx."""
    to = request.header("to")
    if status > 100 and ";tag=" not in to:
        to += f";tag={to_tag}"
    lines = [f"SIP/2.0 {status} {reason}"] + [f"Via: {v}" for v in request.all("via")]
    lines += [f"From: {request.header('from')}", f"To: {to}",
              f"Call-ID: {request.call_id}", f"CSeq: {request.header('cseq')}"]
    if 180 <= status < 300:
        lines += [f"Record-Route: {rr}" for rr in request.all("record-route")]
    lines += [*headers, f"Content-Length: {len(body)}", "", ""]
    return "\r\n".join(lines).encode("latin-1") + body


class ScriptedSipServer:
    """A SIP server over UDP on 127.0.0.1 that keeps every message it gets
    (with where from) and answers as `answer(server, message, address)`
    says (nothing when None)."""

    def __init__(self, test, answer=None):
        self.answer = answer
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.port = free_port_tcp_udp()
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.settimeout(0.1)
        self.lock = threading.Lock()
        self.received = []
        self.timers = []
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()
        test.addCleanup(self.close)

    def _serve(self):
        while self.running:
            try:
                data, address = self.sock.recvfrom(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            message = SipMessage(data)
            with self.lock:
                self.received.append((message, address))
            if self.answer:
                self.answer(self, message, address)

    def send(self, data, address):
        try:
            self.sock.sendto(data, address)
        except OSError:
            pass  # closed at the end of the test

    def later(self, seconds, data, address):
        """Sends `data` after `seconds` (a server that takes its time)."""
        timer = threading.Timer(seconds, self.send, (data, address))
        self.timers.append(timer)
        timer.start()

    def requests(self, method=None, call_id=None):
        with self.lock:
            return [m for m, _ in self.received
                    if m.method and (method is None or m.method == method)
                    and (call_id is None or m.call_id == call_id)]

    def close(self):
        self.running = False
        for timer in self.timers:
            timer.cancel()
        self.thread.join(timeout=5)
        self.sock.close()


class SipUdpClient:
    """A caller's UDP socket on 127.0.0.1 facing the proxy."""

    def __init__(self, test, proxy_port):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.proxy = ("127.0.0.1", proxy_port)
        test.addCleanup(self.sock.close)

    def send(self, data):
        self.sock.sendto(data, self.proxy)

    def receive(self, timeout):
        """The next message within `timeout` seconds, or None."""
        self.sock.settimeout(timeout)
        try:
            return SipMessage(self.sock.recv(65536))
        except socket.timeout:
            return None

    def responses_until_final(self, timeout=10, call_id=None):
        """Every response up to and including the first final one; fails
        after `timeout` seconds without one."""
        got = []
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no final response within {timeout}s; got {got}")
            message = self.receive(left)
            if message is None or message.status is None:
                continue
            if call_id and message.call_id != call_id:
                continue
            got.append(message)
            if message.status >= 200:
                return got


# --- the tests -----------------------------------------------------------------

def sip_config(port, admin, servers, balance="round-robin", workers=1, retries=3,
               record_route=True, invite_timeout="1s", server_lines=None, top_lines=""):
    """One sip listener (udp and tcp on `port`) in front of pool `um` of
    `servers` [(name, port)], unchecked; `server_lines` (YAML list items)
    replace `servers`, `top_lines` add top-level keys."""
    if server_lines is None:
        server_lines = "\n".join(f"      - {{address: 127.0.0.1:{p}, name: {n}}}"
                                 for n, p in servers)
    return f"""\
workers: {workers}
admin: {{listen: 127.0.0.1:{admin}}}
{top_lines}pools:
  um:
    balance: {balance}
    retries: {retries}
    health: {{check: none}}
    servers:
{server_lines}
listeners:
  {LISTENER}:
    listen: ["127.0.0.1:{port}"]
    protocol: sip
    pool: um
    sip:
      transports: [udp, tcp]
      failover-on: ["500-599", "408"]
      invite-timeout: {invite_timeout}
      record-route: {"true" if record_route else "false"}
      dialog-timeout: 1h
"""


class SipProxyTest(IntegrationTest):

    def start_proxy(self, servers, port=None, **kwargs):
        self.port = port or free_port_tcp_udp()
        self.admin = free_port()
        self.sb = Switchboard(self.procs, self.workdir,
                              sip_config(self.port, self.admin, servers, **kwargs))
        # The admin port by connecting; the SIP ports without (a probe
        # connection would be a SIP client that says nothing).
        wait_until(lambda: self.sb.proc.poll() is not None or (
            can_connect(self.admin) and tcp_listening(self.port) and udp_bound(self.port)),
            timeout=15, what="switchboard's sip listener")
        if self.sb.proc.poll() is not None:
            self.fail(f"switchboard exited {self.sb.proc.returncode}:\n" + read_log(self.sb.proc))

    def calls(self, result):
        return metric_sum(self.admin, CALLS, listener=LISTENER, result=result)

    def wait_calls(self, **expected):
        """Waits until switchboard_sip_calls_total shows `expected`
        {result: count} (its counters follow the last response a moment
        later); fails with what it shows."""
        results = {"answered": "answered", "failed_over": "failed-over",
                   "rejected": "rejected"}
        try:
            wait_until(lambda: all(self.calls(results[k]) == v for k, v in expected.items()),
                       timeout=5, what=f"{CALLS} {expected}")
        except AssertionError:
            self.fail(f"{CALLS}: expected {expected}, have " +
                      str({k: self.calls(v) for k, v in results.items()}))

    def wait_calls_total(self, total):
        """Waits until switchboard_sip_calls_total adds up to `total` calls;
        returns {result: count}."""
        results = ("answered", "failed-over", "rejected")
        counts = {}

        def settled():
            counts.update({r: self.calls(r) for r in results})
            return sum(counts.values()) == total
        try:
            wait_until(settled, timeout=5, what=f"{total} calls in {CALLS}")
        except AssertionError:
            self.fail(f"{CALLS}: expected {total} calls, have {counts}")
        return counts

    def reject_scenario(self, status, reason):
        """uas_reject.xml answering `status reason` instead of 503."""
        with open(os.path.join(SCENARIOS, "uas_reject.xml")) as f:
            text = f.read()
        path = os.path.join(self.workdir, f"uas_reject_{status}.xml")
        with open(path, "w") as f:
            f.write(text.replace("SIP/2.0 503 Service Unavailable", f"SIP/2.0 {status} {reason}"))
        return path

    def assert_calls_succeeded(self, stats, calls, *servers):
        """`calls` calls succeeded at the caller, none failed there or at
        any of `servers` (SippServer, stopped here)."""
        everything = "\n".join(s.describe() for s in [stats, *(srv.stop() for srv in servers)])
        self.assertEqual((stats.returncode, stats.successful, stats.failed), (0, calls, 0),
                         everything + "\n" + self.sb.log())
        for server in servers:
            self.assertEqual(server.stop().failed, 0, everything)

    # 1. Failover: every kind of failing server, then a healthy one.

    def test_calls_over_udp_fail_over_to_the_healthy_server(self):
        """A pool of a server answering 503, one answering 408, one that
        never answers and a healthy one: retries 3 present each call to
        each server at most once, so every call reaches the healthy server,
        whichever one the rotation starts with; the caller sees only the
        200. Each failing server gets its ACK from the proxy."""
        busy = SippServer(self, "uas_reject.xml", name="busy")
        late = SippServer(self, self.reject_scenario(408, "Request Timeout"), name="late")
        silent = SippServer(self, "uas_silent.xml", name="silent")
        healthy = SippServer(self, "uas_answer.xml", name="healthy")
        self.start_proxy([("busy", busy.port), ("late", late.port), ("silent", silent.port),
                          ("healthy", healthy.port)])

        stats = run_caller(self, "uac", self.port, "udp", calls=100, rate=50)
        self.assert_calls_succeeded(stats, 100, busy, late, healthy)
        self.assertEqual(healthy.stop().successful, 100, healthy.stop().describe())
        for server in (busy, late):
            s = server.stop()
            self.assertGreater(s.count("INVITE"), 0, s.describe())
            self.assertEqual(s.count("ACK"), s.count("INVITE"), s.describe())
        self.assertGreater(silent.stop().count("INVITE"), 0, silent.stop().describe())
        counts = self.wait_calls_total(100)
        self.assertGreater(counts["failed-over"], 0, counts)
        self.assertEqual(counts["rejected"], 0, counts)

    def test_calls_over_tcp_fail_over_to_the_healthy_server(self):
        """The same over TCP (caller and servers): a server answering 500,
        one that never answers and a healthy one."""
        broken = SippServer(self, self.reject_scenario(500, "Server Internal Error"), "tcp",
                            name="broken")
        silent = SippServer(self, "uas_silent.xml", "tcp", name="silent")
        healthy = SippServer(self, "uas_answer.xml", "tcp", name="healthy")
        self.start_proxy([("broken", broken.port), ("silent", silent.port),
                          ("healthy", healthy.port)])

        stats = run_caller(self, "uac", self.port, "tcp", calls=20, rate=20)
        self.assert_calls_succeeded(stats, 20, broken, healthy)
        self.assertEqual(healthy.stop().successful, 20, healthy.stop().describe())
        s = broken.stop()
        self.assertGreater(s.count("INVITE"), 0, s.describe())
        self.assertEqual(s.count("ACK"), s.count("INVITE"), s.describe())
        self.assertGreater(silent.stop().count("INVITE"), 0, silent.stop().describe())
        counts = self.wait_calls_total(20)
        self.assertGreater(counts["failed-over"], 0, counts)
        self.assertEqual(counts["rejected"], 0, counts)

    # 2. and 3. Final answers the caller must see.

    def test_redirect_reaches_the_caller_with_its_contact(self):
        """A 302 is no failure: the caller gets it with the server's Contact
        (uac_redirected.xml checks), and the server its ACK."""
        redirect = SippServer(self, "uas_redirect.xml", name="redirect")
        self.start_proxy([("redirect", redirect.port)])

        stats = run_caller(self, "uac_redirected.xml", self.port, calls=5, rate=20)
        self.assert_calls_succeeded(stats, 5, redirect)
        s = redirect.stop()
        self.assertEqual((s.count("INVITE"), s.count("ACK")), (5, 5), s.describe())
        self.wait_calls(answered=0, failed_over=0, rejected=5)

    def test_every_server_failing_gives_503_with_retry_after(self):
        """Two servers answering 503: each call is presented to both, once
        each, then the caller gets 503 with Retry-After and its own Via only
        (uac_rejected.xml checks)."""
        first = SippServer(self, "uas_reject.xml", name="first")
        second = SippServer(self, "uas_reject.xml", name="second")
        self.start_proxy([("first", first.port), ("second", second.port)])

        stats = run_caller(self, "uac_rejected.xml", self.port, calls=5, rate=20)
        self.assert_calls_succeeded(stats, 5, first, second)
        for server in (first, second):
            s = server.stop()
            self.assertEqual((s.count("INVITE"), s.count("ACK")), (5, 5), s.describe())
        self.wait_calls(answered=0, failed_over=0, rejected=5)

    def test_every_server_silent_gives_503_with_retry_after(self):
        """Two servers that never answer: each call waits invite-timeout
        (1 s) at each, then the caller gets 503 with Retry-After."""
        servers = [SippServer(self, "uas_silent.xml", name=f"silent{i}") for i in (1, 2)]
        self.start_proxy([(s.name, s.port) for s in servers])

        stats = run_caller(self, "uac_rejected.xml", self.port, calls=3, rate=20)
        self.assert_calls_succeeded(stats, 3, *servers)
        for s in servers:
            self.assertEqual(s.stop().successful, 3, s.stop().describe())
        self.wait_calls(answered=0, failed_over=0, rejected=3)

    # 4. CANCEL.

    def cancel_test(self, transport):
        servers = [SippServer(self, "uas_ring_cancel.xml", transport, name=f"ringing{i}")
                   for i in (1, 2)]
        self.start_proxy([(s.name, s.port) for s in servers])

        stats = run_caller(self, "uac_cancel.xml", self.port, transport, calls=6, rate=20)
        self.assert_calls_succeeded(stats, 6, *servers)
        counts = [(s.stop().count("CANCEL"), s.stop().count("ACK")) for s in servers]
        self.assertEqual(sum(c for c, _ in counts), 6, "\n".join(s.stop().describe()
                                                                  for s in servers))
        self.assertEqual(sum(a for _, a in counts), 6)

    def test_cancel_reaches_the_ringing_server(self):
        """Two servers that ring until cancelled: the caller's CANCEL goes to
        the one its INVITE rings at (a CANCEL elsewhere leaves that call
        waiting and failing), the caller gets 200 for the CANCEL and 487
        for the INVITE."""
        self.cancel_test("udp")

    def test_cancel_over_tcp_reaches_the_ringing_server(self):
        self.cancel_test("tcp")

    # 5. In-dialog requests.

    def dialog_test(self, calls, transport="udp", **proxy):
        servers = [SippServer(self, "uas_dialog.xml", transport, name=f"um{i}") for i in (1, 2)]
        self.start_proxy([(s.name, s.port) for s in servers], **proxy)
        stats = run_caller(self, "uac_dialog.xml", self.port, transport, calls=calls, rate=20)
        self.assert_calls_succeeded(stats, calls, *servers)
        answered = [s.stop().successful for s in servers]
        self.assertEqual(sum(answered), calls)
        self.assertTrue(all(answered), f"calls per server: {answered}")
        for s in servers:
            self.assertEqual(s.stop().out_of_call_messages, 0, s.stop().describe())
        self.wait_calls(answered=calls, failed_over=0, rejected=0)
        with open(stats.messages_path, errors="replace") as f:
            return f.read()

    def test_dialog_requests_with_route_reach_the_answering_server(self):
        """ACK, re-INVITE, INFO and BYE, sent with the Route of the proxy's
        Record-Route, reach the server that answered the call (two servers,
        rotation)."""
        trace = self.dialog_test(10)
        self.assertRegex(trace, rf"\nRoute: <sip:[^>\n]*127\.0\.0\.1:{self.port}[;>]",
                         "the in-dialog requests carried no Route to the proxy")

    def test_dialog_requests_over_tcp_reach_the_answering_server(self):
        trace = self.dialog_test(10, "tcp")
        self.assertRegex(trace, rf"\nRoute: <sip:[^>\n]*127\.0\.0\.1:{self.port}[;>]",
                         "the in-dialog requests carried no Route to the proxy")

    def test_dialog_requests_without_route_reach_the_answering_server(self):
        """Without Record-Route the caller's in-dialog requests carry no
        Route: the proxy still sends them to the server that answered (it
        knows the dialog by its Call-ID). Maglev hashes the Call-ID, so
        calls go to both servers; two workers share the listener."""
        trace = self.dialog_test(16, balance="maglev", workers=2, record_route=False)
        self.assertNotIn("\nRoute:", trace)
        self.assertNotIn("\nRecord-Route:", trace)

    def test_calls_in_progress_survive_a_reload(self):
        """Calls answered before a reload end after it: their re-INVITE,
        INFO and BYE, without Route headers (record-route off), reach the
        server that answered, because the reloaded listener keeps its
        calls. Calls set up while the reload happens complete too."""
        servers = [SippServer(self, "uas_dialog.xml", name=f"um{i}") for i in (1, 2)]
        self.start_proxy([(s.name, s.port) for s in servers], record_route=False)
        # The dialog scenario with 2 s between the answer and the re-INVITE.
        with open(os.path.join(SCENARIOS, "uac_dialog.xml")) as f:
            text = f.read()
        self.assertIn('<pause milliseconds="50"/>', text)
        slow = os.path.join(self.workdir, "uac_dialog_slow.xml")
        with open(slow, "w") as f:
            # Requests within the call name the proxy, not the server's
            # Contact: only the call's Call-ID -> server mapping routes them.
            f.write(text.replace('<pause milliseconds="50"/>', '<pause milliseconds="2000"/>')
                    .replace("[next_url]", "sip:[service]@[remote_ip]:[remote_port]"))
        result = {}
        caller = threading.Thread(target=lambda: result.update(
            stats=run_caller(self, slow, self.port, calls=20, rate=20)))
        caller.start()
        time.sleep(0.6)  # a dozen calls answered and waiting, more on their way
        with open(self.sb.path) as f:
            config = f.read()
        with open(self.sb.path, "w") as f:
            f.write(config.replace("invite-timeout: 1s", "invite-timeout: 2s"))
        status, _ = admin_call(self.admin, "POST", "/reload")
        self.assertEqual(status, 200)
        caller.join(timeout=70)
        self.assertIn("stats", result, "the caller did not finish")
        self.assert_calls_succeeded(result["stats"], 20, *servers)
        self.wait_calls(answered=20, failed_over=0, rejected=0)

    # 6. Retransmissions.

    def test_retransmitted_invite_reaches_one_server_once(self):
        """The caller sends its INVITE three times (a UDP retransmission,
        same branch) while the server rings: the proxy absorbs the copies.
        Only one of the two servers ever sees the call, as one transaction
        (the proxy's own retransmissions carry its one branch)."""
        def answer(server, message, address):
            if message.method == "INVITE":
                server.send(sip_response(message, 180, "Ringing"), address)
                server.later(1.0, sip_response(message, 200, "OK"), address)

        servers = [ScriptedSipServer(self, answer) for _ in range(2)]
        self.start_proxy([(f"um{i}", s.port) for i, s in enumerate(servers)])
        client = SipUdpClient(self, self.port)
        for call in range(2):
            call_id = f"retransmitted-{call}-{time.monotonic_ns()}@127.0.0.1"
            invite = sip_request("INVITE", call_id, f"z9hG4bK-retrans-{call}", client.port)
            for _ in range(3):
                client.send(invite)
                time.sleep(0.25)
            responses = client.responses_until_final(call_id=call_id)
            self.assertEqual(responses[-1].status, 200, responses)
            self.assertIn(100, [r.status for r in responses])
            client.send(sip_request("ACK", call_id, f"z9hG4bK-retrans-ack-{call}", client.port,
                                    to_tag="sbtest-server"))
            wait_until(lambda: any(s.requests("ACK", call_id) for s in servers),
                       timeout=5, what="the ACK at a server")
            invites = [s.requests("INVITE", call_id) for s in servers]
            self.assertEqual(sorted(bool(i) for i in invites), [False, True],
                             f"INVITEs per server: {invites}")
            branches = {m.branch() for i in invites for m in i}
            self.assertEqual(len(branches), 1, f"transactions at the server: {branches}")

    # 7. The proxy itself, malformed input.

    def test_options_for_the_proxy_itself(self):
        """sipsak's OPTIONS sip:127.0.0.1:PORT names the proxy: it answers
        200 itself; the server behind it never sees it. (A port of 4 digits:
        see free_port_4_digits.)"""
        server = ScriptedSipServer(self)
        self.start_proxy([("um", server.port)], port=free_port_4_digits())
        r = subprocess.run(["sipsak", "-s", f"sip:127.0.0.1:{self.port}", "-H", "127.0.0.1",
                            "-vv"], capture_output=True, timeout=30)
        output = r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")
        self.assertEqual(r.returncode, 0, output)
        self.assertRegex(output, r"SIP/2\.0 200 ")
        self.assertEqual(server.requests(), [])

    def assert_refused(self, data, what, allow_silence=False):
        """Sends `data` from a new UDP socket: the proxy answers 400 (or,
        with allow_silence, says nothing within 1 s)."""
        with self.subTest(what):
            client = SipUdpClient(self, self.port)
            client.send(data.replace(b"127.0.0.1:VIA_PORT", f"127.0.0.1:{client.port}".encode()))
            answer = client.receive(1.0 if allow_silence else 3.0)
            if answer is None and allow_silence:
                return
            self.assertIsNotNone(answer, f"no answer to {what}")
            self.assertEqual(answer.status, 400, f"answer to {what}: {answer}")

    def test_malformed_requests_are_refused_and_calls_go_on(self):
        """Malformed requests over UDP and TCP get 400 (or, without a Via to
        answer to, nothing), a 70 KiB message over TCP is refused; none
        reaches the server, and a call afterwards succeeds."""
        healthy = SippServer(self, "uas_answer.xml", name="healthy")
        self.start_proxy([("healthy", healthy.port)])

        def invite(call_id, **kwargs):
            return sip_request("INVITE", f"{call_id}@127.0.0.1", f"z9hG4bK-{call_id}", "VIA_PORT",
                               **kwargs)

        whole = invite("truncated")
        self.assert_refused(whole[:whole.index(b"CSeq:") + 9], "truncated headers")
        self.assert_refused(invite("short-body", body=b"v=0\r\n", content_length=200),
                            "a body shorter than its Content-Length")
        self.assert_refused(invite("bad-length", content_length="twelve"),
                            "Content-Length: twelve")
        self.assert_refused(invite("no-call-id").replace(b"Call-ID: no-call-id@127.0.0.1\r\n",
                                                         b""), "no Call-ID")
        self.assert_refused(invite("no-via", via=False), "no Via", allow_silence=True)
        self.assert_refused(b"\x00\xff\xfe not SIP at all\r\n\r\n", "not SIP",
                            allow_silence=True)
        with self.subTest("a response that belongs to nothing"):
            # Dropped, not "forwarded" anywhere.
            client = SipUdpClient(self, self.port)
            client.send(b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK-stray\r\n"
                        b"From: <sip:a@127.0.0.1>;tag=a\r\nTo: <sip:b@127.0.0.1>;tag=b\r\n"
                        b"Call-ID: stray@127.0.0.1\r\nCSeq: 1 INVITE\r\n"
                        b"Content-Length: 0\r\n\r\n")
            self.assertIsNone(client.receive(0.5))

        # TCP: a message larger than 64 KiB, a Content-Length that is no number.
        big = invite("big", transport="TCP", body=b"a=x" * (70 * 1024 // 3))
        self.assertRefusedOverTcp(big, (400, 413, 513), "a 70 KiB INVITE")
        self.assertRefusedOverTcp(invite("tcp-bad-length", transport="TCP",
                                         content_length="twelve"),
                                  (400,), "Content-Length: twelve over TCP")

        self.assertIsNone(self.sb.proc.poll(), "switchboard exited")
        stats = run_caller(self, "uac", self.port, "udp", calls=1, rate=10)
        self.assert_calls_succeeded(stats, 1, healthy)
        self.assertEqual(healthy.stop().count("INVITE"), 1, healthy.stop().describe())

    def assertRefusedOverTcp(self, data, statuses, what):
        """Sends `data` on a new TCP connection: the proxy answers one of
        `statuses` or closes the connection, within 5 s."""
        with self.subTest(what), \
                socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            data = data.replace(b"VIA_PORT", str(s.getsockname()[1]).encode())
            try:
                s.sendall(data)
            except socket.timeout:
                self.fail(f"the proxy stopped reading {what} without closing")
            except OSError:
                return  # closed while we were sending: refused
            got = b""
            try:
                while b"\r\n\r\n" not in got:
                    chunk = s.recv(65536)
                    if not chunk:
                        return  # closed
                    got += chunk
            except ConnectionResetError:
                return
            except socket.timeout:
                self.fail(f"neither an answer nor a close within 5 s after {what}")
            self.assertIn(SipMessage(got).status, statuses, f"answer to {what}: {got!r}")

    def test_malformed_responses_from_a_server_are_dropped(self):
        """A server that answers every INVITE with a malformed 486 (a body
        shorter than its Content-Length, then headers cut short): the proxy
        drops it (RFC 3261 18.3), so the call has no provisional response
        within invite-timeout and goes to the healthy server; a 486 that got
        through would reach the caller and fail its call."""
        def answer(server, message, address):
            if message.method != "INVITE":
                return
            response = sip_response(message, 486, "Busy Here")
            if len(server.requests("INVITE")) % 2:
                response = response.replace(b"Content-Length: 0", b"Content-Length: 300") + b"x"
            else:
                response = response[:response.index(b"CSeq:")]
            server.send(response, address)

        garbler = ScriptedSipServer(self, answer)
        healthy = SippServer(self, "uas_answer.xml", name="healthy")
        self.start_proxy([("garbler", garbler.port), ("healthy", healthy.port)])

        stats = run_caller(self, "uac", self.port, "udp", calls=4, rate=10)
        self.assert_calls_succeeded(stats, 4, healthy)
        self.assertGreaterEqual(len({m.call_id for m in garbler.requests("INVITE")}), 1)
        self.assertEqual(healthy.stop().successful, 4)
        counts = self.wait_calls_total(4)
        self.assertGreater(counts["failed-over"], 0, counts)
        self.assertEqual(counts["rejected"], 0, counts)

    # 8. What the proxy does to the messages it forwards.

    def test_forwarded_invite_and_its_responses(self):
        """100 Trying at once (the server rings after 400 ms); the INVITE
        reaches the server with the proxy's Via on top (a z9hG4bK branch)
        over the caller's, Max-Forwards one less and a loose-routing
        Record-Route; the responses reach the caller with its own Via only,
        and the 200's Record-Route names the listener (the proxy may name
        another address of its own to the server and rewrite the value on
        the way back, RFC 3261 16.7 step 8, but the caller reaches it at the
        listener's); ACK and BYE reach the server."""
        def answer(server, message, address):
            if message.method == "INVITE" and len(server.requests("INVITE")) == 1:
                server.later(0.4, sip_response(message, 180, "Ringing"), address)
                server.later(0.6, sip_response(message, 200, "OK"), address)
            elif message.method == "BYE":
                server.send(sip_response(message, 200, "OK"), address)

        server = ScriptedSipServer(self, answer)
        self.start_proxy([("um", server.port)])
        client = SipUdpClient(self, self.port)
        call_id = f"headers-{time.monotonic_ns()}@127.0.0.1"
        sent = time.monotonic()
        client.send(sip_request("INVITE", call_id, "z9hG4bK-headers", client.port))
        first = client.receive(5)
        self.assertIsNotNone(first, "no 100 Trying")
        self.assertEqual(first.status, 100, first)
        self.assertLess(time.monotonic() - sent, 0.35, "100 Trying came late")
        responses = [first] + client.responses_until_final(call_id=call_id)
        self.assertEqual([r.status for r in responses if r.status != 100], [180, 200],
                         responses)
        for r in responses:
            self.assertEqual((len(r.all("via")), r.branch()), (1, "z9hG4bK-headers"), r)

        # The proxy may send the INVITE again before the 180 (its timer A
        # runs out at 500 ms): the same transaction, one branch.
        invites = server.requests("INVITE", call_id)
        self.assertEqual(len({m.branch() for m in invites}), 1, invites)
        invite = invites[0]
        self.assertEqual(len(invite.all("via")), 2, invite)
        self.assertTrue(invite.branch(0).startswith("z9hG4bK"), invite)
        self.assertNotEqual(invite.branch(0), "z9hG4bK-headers")
        self.assertEqual(invite.branch(1), "z9hG4bK-headers", invite)
        self.assertEqual(invite.header("max-forwards"), "69", invite)
        self.assertRegex(invite.header("record-route") or "", r"^<sip:[^>]*;lr[^>]*>$", invite)
        # The caller's route set is the 200's Record-Route in reverse: the
        # last value is where its in-dialog requests go first.
        self.assertRegex((responses[-1].all("record-route") or [""])[-1],
                         rf"^<sip:[^>]*127\.0\.0\.1:{self.port}[;>]", responses[-1])

        client.send(sip_request("ACK", call_id, "z9hG4bK-headers-ack", client.port,
                                to_tag="sbtest-server"))
        client.send(sip_request("BYE", call_id, "z9hG4bK-headers-bye", client.port, cseq=2,
                                to_tag="sbtest-server"))
        bye = client.responses_until_final(call_id=call_id)
        self.assertEqual((bye[-1].status, bye[-1].cseq_method), (200, "BYE"), bye)
        methods = [m.method for m in server.requests(call_id=call_id)]
        self.assertEqual([m for i, m in enumerate(methods) if i == 0 or methods[i - 1] != m],
                         ["INVITE", "ACK", "BYE"])
        self.wait_calls(answered=1, failed_over=0, rejected=0)

    def test_max_forwards_zero_gets_483(self):
        """An INVITE with Max-Forwards: 0 can go no further: 483 Too Many
        Hops, and the server never sees it."""
        server = ScriptedSipServer(self)
        self.start_proxy([("um", server.port)])
        client = SipUdpClient(self, self.port)
        client.send(sip_request("INVITE", "hops@127.0.0.1", "z9hG4bK-hops", client.port,
                                max_forwards=0))
        responses = client.responses_until_final(call_id="hops@127.0.0.1")
        self.assertEqual(responses[-1].status, 483, responses)
        client.send(sip_request("ACK", "hops@127.0.0.1", "z9hG4bK-hops", client.port,
                                max_forwards=70, to_tag=responses[-1].header("to")
                                .partition(";tag=")[2]))
        time.sleep(0.2)
        self.assertEqual(server.requests(), [])

    # 9. Servers from DNS.

    def test_calls_reach_servers_discovered_from_srv_records(self):
        """Pool `um` is `srv: _sip._udp.um.test`, asked of a real named on
        loopback: two SRV records of equal priority name two targets, each
        with an A record, on the ports of two sipp servers. Both are in the
        pool before calls come, and round-robin gives each its share."""
        servers = [SippServer(self, "uas_answer.xml", name=f"um{i}") for i in (1, 2)]
        named = NamedServer(self.procs, self.workdir, {"um.test.": SRV_ZONE.format(
            port1=servers[0].port, port2=servers[1].port)})
        self.start_proxy([], server_lines="      - {srv: _sip._udp.um.test}", top_lines=(
            f'resolver: {{servers: ["127.0.0.1:{named.port}"], timeout: 500ms, attempts: 2}}\n'))
        expected = {f"um{i}.um.test:{s.port}@127.0.0.1": f"127.0.0.1:{s.port}"
                    for i, s in enumerate(servers, 1)}

        def pool():
            return {s["name"]: s["address"]
                    for p in admin_call(self.admin, "GET", "/status")[1]["pools"]
                    if p["name"] == "um" for s in p["servers"]}
        try:
            wait_until(lambda: pool() == expected, timeout=10, what="both SRV targets")
        except AssertionError:
            self.fail(f"pool um: expected {expected}, have {pool()}\n" + self.sb.log())

        stats = run_caller(self, "uac", self.port, "udp", calls=10, rate=20)
        self.assert_calls_succeeded(stats, 10, *servers)
        answered = [s.stop().successful for s in servers]
        self.assertEqual(answered, [5, 5], "calls per server")
        self.wait_calls(answered=10, failed_over=0, rejected=0)


if __name__ == "__main__":
    unittest.main()
