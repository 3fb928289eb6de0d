"""The `http` listener (docs/configuration.md, "http") against real peers:
nginx backends that echo what they received, curl, raw sockets for what
clients may send, scripted backends where a server must misbehave (or speak
NTLM per connection), python3-websockets, and certificates made with
openssl for TLS termination, mutual TLS and TLS to servers."""

import base64
import hashlib
import os
import re
import socket
import struct
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import sbtest  # noqa: E402
from sbtest import (SWITCHBOARD, CertificateAuthority, HttpClient, IntegrationTest,  # noqa: E402
                    Nginx, ScriptedServer, SocketReader, Switchboard, admin_call, can_connect,
                    closed_within, echo_location, free_port, http_request, http_response_bytes,
                    memory_kib, metric_sum, parse_echo, read_http_request, read_http_response,
                    requests_on, wait_for_log, wait_until)

MiB = 1 << 20


# The routes of test_routes_... and what each (Host, path) must reach: a
# pool's name, or None for switchboard's 404. Shared with h2_test.py, which
# asks the same over HTTP/2 (:authority in place of Host).
ROUTE_POOLS = ("owa", "mail", "wild", "ecp")
ROUTES = ("{match: {path-prefix: /owa}, pool: owa}",
          "{match: {host: mail.example.com}, pool: mail}",
          '{match: {host: "*.example.com"}, pool: wild}',
          # Never reached: the route above matches mail.example.com first.
          "{match: {host: mail.example.com, path-prefix: /ecp}, pool: ecp}")
ROUTE_CASES = (
    ("mail.example.com", "/", "mail"),
    ("MAIL.Example.COM:8080", "/inbox", "mail"),  # case and port do not matter
    ("a.example.com", "/", "wild"),
    ("x.y.example.com", "/", "wild"),
    ("example.com", "/", None),  # "*." wants a subdomain
    ("notexample.com", "/", None),
    ("mail.example.com", "/OWA/", "owa"),
    ("other.org", "/owa?x=1", "owa"),
    ("other.org", "/owa", "owa"),
    ("other.org", "/Owa/auth/logon.aspx", "owa"),
    ("mail.example.com", "/owacompat", "mail"),  # not on a segment boundary
    ("other.org", "/owacompat", None),
    ("mail.example.com", "/ecp/", "mail"),  # first match wins
    ("other.org", "/", None),
)


def pool_yaml(name, servers, lines=()):
    """A pool without health checks or outlier ejection (each test decides
    what is down); servers are (name, port) or (name, port, "more: keys")."""
    out = [f"  {name}:", "    health: {check: none}", "    outlier: {consecutive-failures: 0}",
           "    connect-timeout: 500ms"]
    out += [f"    {line}" for line in lines]
    out.append("    servers:")
    for server_name, port, *more in servers:
        extra = f", {more[0]}" if more else ""
        out.append(f"      - {{address: 127.0.0.1:{port}, name: {server_name}{extra}}}")
    return "\n".join(out) + "\n"


def listener_yaml(name, port, routes, http_lines=(), lines=()):
    """An http listener on 127.0.0.1:port; routes are flow mappings
    ("{match: {host: a.example}, pool: p}"), http_lines further `http:` keys,
    lines further listener keys (such as a `tls:` block)."""
    out = [f"  {name}:", f'    listen: ["127.0.0.1:{port}"]', "    protocol: http"]
    out += [f"    {line}" for line in lines]
    out += ["    http:", "      routes:"]
    out += [f"        - {route}" for route in routes]
    out += [f"      {line}" for line in http_lines]
    return "\n".join(out) + "\n"


def curl(*args, timeout=20):
    return subprocess.run(["curl", "-sS", "--max-time", str(timeout), *args],
                          capture_output=True, timeout=timeout + 10)


def websocket_python():
    """An interpreter that has the websockets module: this one, or Debian's
    (python3-websockets, installed by scripts/setup) when this one is
    another python3 (a virtualenv or pyenv)."""
    for exe in (sys.executable, "/usr/bin/python3"):
        if os.path.exists(exe) and subprocess.run(
                [exe, "-c", "import websockets"], capture_output=True, timeout=30).returncode == 0:
            return exe
    return None


WS_ECHO_SERVER = """\
import asyncio, sys
import websockets

async def echo(ws, path=None):
    async for message in ws:
        await ws.send(message)

async def main():
    async with websockets.serve(echo, "127.0.0.1", int(sys.argv[1]), max_size=None):
        await asyncio.Future()

asyncio.run(main())
"""

WS_CLIENT = """\
import asyncio, os, sys
import websockets

async def main():
    messages = ["hello", os.urandom(300000)] + [f"message {i}" for i in range(50)]
    async with websockets.connect(sys.argv[1], max_size=None, open_timeout=10) as ws:
        for m in messages:
            await ws.send(m)
            got = await asyncio.wait_for(ws.recv(), 10)
            if got != m:
                print("mismatch on", repr(m)[:40])
                sys.exit(1)
    print(f"echoed {len(messages)}")

asyncio.run(main())
"""

# NTLM as curl and IIS speak it, reduced to its message sequence: a
# Type 2 (challenge) without target info, so that curl answers with a
# Type 3 of its own computation.
NTLM_TYPE2 = base64.b64encode(
    b"NTLMSSP\0" + struct.pack("<I", 2) + struct.pack("<HHI", 0, 0, 40) +
    struct.pack("<I", 0x00000201) + b"\x01\x23\x45\x67\x89\xab\xcd\xef" + b"\0" * 8).decode()


def ntlm_token(kind):
    body = {1: struct.pack("<I", 0x00000201) + b"\0" * 16, 3: b"\0" * 52}[kind]
    return "NTLM " + base64.b64encode(b"NTLMSSP\0" + struct.pack("<I", kind) + body).decode()


class NtlmServer(ScriptedServer):
    """A backend that authenticates connections, not requests, as IIS does
    with NTLM: a Type 1 gets 401 with a challenge, a Type 3 on the SAME
    connection after that challenge gets 200 and the connection stays
    authenticated; a Type 3 on any other connection, or a request without
    credentials on an unauthenticated one, gets 401. Every response names
    its connection (X-Conn)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.connections = 0
        super().__init__(self.serve)

    def serve(self, conn):
        with self.lock:
            self.connections += 1
            cid = self.connections
        state = "new"
        for req in requests_on(conn):
            auth = req.header("Authorization") or ""
            headers = [("X-Conn", str(cid)), ("Content-Type", "text/plain")]
            kind = 0
            if auth.startswith("NTLM "):
                msg = base64.b64decode(auth[5:] + "==")
                if msg.startswith(b"NTLMSSP\0") and len(msg) >= 12:
                    kind = struct.unpack("<I", msg[8:12])[0]
            if kind == 1:
                state = "challenged"
                status, body = 401, b"challenged\n"
                headers.append(("WWW-Authenticate", "NTLM " + NTLM_TYPE2))
            elif kind == 3 and state == "challenged":
                state = "authenticated"
                status, body = 200, b"authenticated\n"
            elif kind == 0 and state == "authenticated":
                status, body = 200, b"authenticated\n"
            else:
                state = "new"
                status, body = 401, b"not authenticated on this connection\n"
                headers.append(("WWW-Authenticate", "NTLM"))
            conn.sendall(http_response_bytes(
                status, "OK" if status == 200 else "Unauthorized", headers, body))


def body_counter(conn):
    """A backend that reads each request's body (Content-Length or chunked)
    and answers what it got: byte count, SHA-256, framing and trailers."""
    for req in requests_on(conn):
        info = "|".join([
            f"method={req.method}", f"bytes={len(req.body)}",
            f"sha256={hashlib.sha256(req.body).hexdigest()}",
            f"te={req.header('Transfer-Encoding') or ''}",
            f"clen={req.header('Content-Length') or ''}",
            "trailers=" + ";".join(f"{n}: {v}" for n, v in req.trailers)]) + "\n"
        conn.sendall(http_response_bytes(200, "OK", [("Content-Type", "text/plain")],
                                         info.encode()))


class HttpListenerTest(IntegrationTest):

    def start(self, pools, listeners, ports, check_first=False):
        """switchboard with one worker (one keep-alive pool, so that reuse
        is deterministic); `ports` are the listeners' ports to wait for.
        check_first: run `switchboard check` and skip when it says TLS is
        not supported by this binary (the TLS tests)."""
        self.admin = free_port()
        yaml = (f"workers: 1\nshutdown-grace: 1s\nadmin: {{listen: 127.0.0.1:{self.admin}}}\n"
                f"pools:\n{pools}listeners:\n{listeners}")
        if check_first:
            path = os.path.join(self.workdir, "check.yaml")
            with open(path, "w") as f:
                f.write(yaml)
            r = subprocess.run([SWITCHBOARD, "check", "-c", path], capture_output=True,
                               text=True, timeout=30)
            said = r.stdout + r.stderr
            if r.returncode != 0 and "not supported by this version" in said and "tls" in said:
                self.skipTest(f"this binary does not support TLS yet: {said.strip()[:200]}")
        self.sb = Switchboard(self.procs, self.workdir, yaml, wait_ports=ports)

    def echo_backends(self, names, tag="nginx", tls=None, extra_locations=""):
        """One nginx with an echo server per name; {name: port}."""
        ports = {n: free_port() for n in names}
        Nginx(self.procs, self.workdir,
              [{"name": n, "port": p, "tls": tls,
                "locations": echo_location(n) + extra_locations} for n, p in ports.items()],
              tag=tag)
        return ports

    def who(self, port, host, path="/", **kwargs):
        """(status, the backend's name or switchboard's own body)."""
        r = http_request(port, "GET", path, [("Host", host)], **kwargs)
        if r.status == 200:
            return 200, parse_echo(r.body).get("name")
        return r.status, r.body.decode(errors="replace")

    # 1. Routes.
    def test_routes_host_wildcard_path_prefix_first_match_and_default(self):
        names = ("owa", "mail", "wild", "ecp", "dflt")
        ports = self.echo_backends(names)
        routes = list(ROUTES)
        strict, fallback = free_port(), free_port()
        self.start("".join(pool_yaml(n, [(n, ports[n])]) for n in names),
                   listener_yaml("strict", strict, routes) +
                   listener_yaml("fallback", fallback, routes + ["{pool: dflt}"]),
                   [strict, fallback])
        for host, path, expected in ROUTE_CASES:
            with self.subTest(host=host, path=path):
                status, got = self.who(strict, host, path)
                if expected is None:
                    self.assertEqual(status, 404, got)
                    self.assertTrue(got.strip(), "a 404 of switchboard's own has a body")
                else:
                    self.assertEqual((status, got), (200, expected))
                # The listener with a default route sends what matches no
                # other route there.
                status, got = self.who(fallback, host, path)
                self.assertEqual((status, got), (200, expected or "dflt"))
        r = http_request(strict, "GET", "/", [("Host", "other.org")])
        self.assertTrue(r.header("Content-Type").startswith("text/plain"), r.headers)
        wait_for_log(self.sb, "reason=no-route")
        self.assertRegex(self.sb.log(), r"access listener=strict .*host=other\.org .*status=404")

    # 2. Forwarded headers and hop-by-hop headers.
    def test_forwarded_headers_are_appended_and_hop_by_hop_headers_removed(self):
        ports = self.echo_backends(("b1",))
        port, plain = free_port(), free_port()
        self.start(pool_yaml("web", [("b1", ports["b1"])]),
                   listener_yaml("vip", port, ["{pool: web}"]) +
                   listener_yaml("plain", plain, ["{pool: web}"], ["forwarded-headers: false"]),
                   [port, plain])
        sent = [("Host", "app.example.com"), ("X-Forwarded-For", "203.0.113.9"),
                ("Forwarded", "for=203.0.113.9;proto=https"),
                ("Connection", "keep-alive, X-Secret"), ("X-Secret", "1"), ("TE", "trailers"),
                ("Keep-Alive", "timeout=5")]
        r = http_request(port, "GET", "/fwd?a=1", sent, source="127.0.0.7")
        self.assertEqual(r.status, 200)
        got = parse_echo(r.body)
        self.assertEqual(got["uri"], "/fwd?a=1")
        self.assertEqual(got["host"], "app.example.com")
        self.assertEqual(got["xff"], "203.0.113.9, 127.0.0.7")
        self.assertEqual(got["xfp"], "http")
        self.assertEqual(got["xfh"], "app.example.com")
        self.assertEqual(got["fwd"],
                         'for=203.0.113.9;proto=https, for=127.0.0.7;proto=http;'
                         'host="app.example.com"')
        # Named in Connection, or hop-by-hop by definition: not forwarded.
        self.assertEqual((got["secret"], got["te"], got["keepalive"]), ("", "", ""))

        r = http_request(port, "GET", "/", [("Host", "app.example.com")], source="127.0.0.8")
        got = parse_echo(r.body)
        self.assertEqual(got["xff"], "127.0.0.8")
        self.assertEqual(got["fwd"], 'for=127.0.0.8;proto=http;host="app.example.com"')

        # forwarded-headers: false leaves them as the client sent them, but
        # hop-by-hop headers still go.
        got = parse_echo(http_request(plain, "GET", "/", sent, source="127.0.0.7").body)
        self.assertEqual((got["xff"], got["fwd"], got["xfp"], got["xfh"]),
                         ("203.0.113.9", "for=203.0.113.9;proto=https", "", ""))
        self.assertEqual((got["secret"], got["te"]), ("", ""))

    # 3. Keep-alive to the client and to servers; pipelining.
    def test_keepalive_both_ways_and_pipelining(self):
        ports = self.echo_backends(("b1",))
        port = free_port()
        self.start(pool_yaml("web", [("b1", ports["b1"])],
                             ["keepalive: {max-idle: 4, idle-timeout: 30s}"]),
                   listener_yaml("vip", port, ["{pool: web}"]), [port])
        r = curl("-v", f"http://127.0.0.1:{port}/one", f"http://127.0.0.1:{port}/two")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"Re-using existing connection", r.stderr)
        bodies = [parse_echo(line) for line in r.stdout.decode().splitlines()]
        self.assertEqual([b["uri"] for b in bodies], ["/one", "/two"])

        # Two requests in one write: two responses, in order, and the
        # connection still serves a third.
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"GET /p1 HTTP/1.1\r\nHost: a\r\n\r\nGET /p2 HTTP/1.1\r\nHost: b\r\n\r\n")
            reader = SocketReader(s)
            first, second = read_http_response(reader), read_http_response(reader)
            self.assertEqual((first.status, second.status), (200, 200))
            self.assertEqual([parse_echo(x.body)["uri"] for x in (first, second)], ["/p1", "/p2"])
            s.sendall(b"GET /p3 HTTP/1.1\r\nHost: c\r\n\r\n")
            self.assertEqual(parse_echo(read_http_response(reader).body)["uri"], "/p3")
            # HEAD: a Content-Length and no body; the next response follows at once.
            s.sendall(b"HEAD /h HTTP/1.1\r\nHost: c\r\n\r\nGET /after-head HTTP/1.1\r\n"
                      b"Host: c\r\n\r\n")
            head = read_http_response(reader, "HEAD")
            self.assertEqual((head.status, head.body), (200, b""))
            self.assertGreater(int(head.header("Content-Length")), 0)
            self.assertEqual(parse_echo(read_http_response(reader).body)["uri"], "/after-head")

        # Five clients one after the other: one server connection serves them all.
        for i in range(5):
            self.assertEqual(http_request(port, "GET", f"/ka{i}", [("Host", "a")]).status, 200)
        conns_log = os.path.join(self.workdir, "b1.conns")

        def ka_lines():
            with open(conns_log) as f:
                return [line.split() for line in f if " /ka" in line]
        wait_until(lambda: len(ka_lines()) == 5, what="five requests in nginx's log")
        self.assertEqual(len({cols[0] for cols in ka_lines()}), 1, ka_lines())

    # 4. Cookie affinity.
    def test_cookie_affinity_sticks_and_moves_when_the_server_goes(self):
        nginxes, ports = {}, {}
        for n in ("b1", "b2", "b3"):
            ports[n] = free_port()
            nginxes[n] = Nginx(self.procs, self.workdir, [
                {"name": n, "port": ports[n], "locations": echo_location(n)}], tag=f"nginx-{n}")
        port = free_port()
        self.start(pool_yaml("web", [(n, ports[n]) for n in ("b1", "b2", "b3")]),
                   listener_yaml("vip", port, ["{pool: web}"], ["affinity: cookie"]), [port])

        def get(cookie=None):
            headers = [("Host", "app.example.com")]
            if cookie:
                headers.append(("Cookie", f"theme=dark; SWBSRV={cookie}"))
            r = http_request(port, "GET", "/", headers)
            self.assertEqual(r.status, 200, r.body)
            set_cookie = r.header("Set-Cookie")
            value = None
            if set_cookie:
                m = re.match(r"SWBSRV=([^;]+);", set_cookie)
                self.assertTrue(m, set_cookie)
                self.assertIn("HttpOnly", set_cookie)
                self.assertNotIn("Secure", set_cookie)  # cleartext
                value = m.group(1)
            return parse_echo(r.body)["name"], value

        first, cookie = get()
        self.assertIsNotNone(cookie, "the first response sets the affinity cookie")
        # Without the cookie requests spread; with it, they stay.
        self.assertGreater(len({get()[0] for _ in range(6)}), 1)
        self.assertEqual({get(cookie)[0] for _ in range(9)}, {first})

        # Disabled: the cookie's server gets no new requests, the cookie is re-set.
        self.assertEqual(admin_call(self.admin, "POST", f"/pools/web/servers/{first}/disable")[0],
                         200)
        second, cookie2 = get(cookie)
        self.assertNotEqual(second, first)
        self.assertIsNotNone(cookie2)
        self.assertNotEqual(cookie2, cookie)
        self.assertEqual({get(cookie2)[0] for _ in range(5)}, {second})

        # Killed: the connect fails, the request goes to the one left.
        nginxes[second].proc.terminate()
        nginxes[second].proc.wait(timeout=10)
        (third,) = {"b1", "b2", "b3"} - {first, second}
        got, cookie3 = get(cookie2)
        self.assertEqual(got, third)
        self.assertNotIn(cookie3, (None, cookie, cookie2))
        self.assertEqual(get(cookie3)[0], third)

        # A cookie that names no server is balanced and re-set.
        got, value = get("0123456789abcdeg")
        self.assertEqual(got, third)
        self.assertIsNotNone(value)

    # 5. Retries and switchboard's own answers.
    def test_retries_and_own_answers(self):
        ports = self.echo_backends(("good",))
        closer_hits = []

        def closer(conn):  # reads the request, closes without a word
            conn.recv(65536)
            closer_hits.append(1)
        resetting = ScriptedServer(closer)
        self.addCleanup(resetting.close)
        sleeper_hits = []

        def sleeper(conn):  # reads the request, answers nothing for 3s
            conn.recv(65536)
            sleeper_hits.append(1)
            time.sleep(3)
        slow = ScriptedServer(sleeper)
        self.addCleanup(slow.close)
        closed = free_port()
        port = free_port()
        pools = (pool_yaml("mixed", [("closed", closed), ("closer", resetting.port),
                                     ("good", ports["good"])], ["retries: 2"]) +
                 pool_yaml("firstbad", [("closer", resetting.port), ("good", ports["good"])],
                           ["retries: 2", "balance: first-available"]) +
                 pool_yaml("down", [("good", ports["good"], "state: disabled")]) +
                 pool_yaml("slow", [("sleeper", slow.port)]))
        self.start(pools, listener_yaml(
            "web", port, ["{match: {path-prefix: /first}, pool: firstbad}",
                          "{match: {path-prefix: /down}, pool: down}",
                          "{match: {path-prefix: /slow}, pool: slow}",
                          "{pool: mixed}"],
            ["request-timeout: 1s", "response-timeout: 1s", "max-header-size: 1KB"]), [port])
        host = [("Host", "app.example.com")]

        # A refused connect and a server that closes are retried for GET.
        results = [self.who(port, "app.example.com", f"/r{i}") for i in range(50)]
        self.assertEqual([r for r in results if r != (200, "good")], [])
        self.assertRegex(self.sb.log(), r"pool=mixed server=good retries=[12]")
        self.assertGreater(len(closer_hits), 0)

        # first-available tries the closer first: GET and PUT (small body,
        # replayed) end on good; POST is not retried: 502.
        self.assertEqual(self.who(port, "app.example.com", "/first/get"), (200, "good"))
        r = http_request(port, "PUT", "/first/put", host, body=b"x" * 1000)
        self.assertEqual((r.status, parse_echo(r.body)["method"], parse_echo(r.body)["clen"]),
                         (200, "PUT", "1000"))
        hits = len(closer_hits)
        r = http_request(port, "POST", "/first/post", host, body=b"a=1")
        self.assertEqual(r.status, 502, r.body)
        self.assertTrue(r.body.strip())
        self.assertEqual(len(closer_hits), hits + 1)
        with open(os.path.join(self.workdir, "good.conns")) as f:
            self.assertNotIn("POST", f.read())
        wait_for_log(self.sb, "reason=server-reset")

        # No server eligible: 503 with Retry-After.
        r = http_request(port, "GET", "/down", host)
        self.assertEqual(r.status, 503, r.body)
        self.assertIsNotNone(r.header("Retry-After"))
        self.assertTrue(r.body.strip())
        wait_for_log(self.sb, "reason=no-server")

        # No response within response-timeout: 504, and not presented again.
        started = time.monotonic()
        r = http_request(port, "GET", "/slow", host)
        took = time.monotonic() - started
        self.assertEqual(r.status, 504, r.body)
        self.assertTrue(0.9 < took < 2.8, took)
        self.assertEqual(len(sleeper_hits), 1)
        wait_for_log(self.sb, "reason=response-timeout")

        # Headers over max-header-size (1KB): 431; well below it: served.
        r = http_request(port, "GET", "/", host + [("X-Big", "a" * 4096)])
        self.assertEqual(r.status, 431, r.body)
        self.assertEqual(http_request(port, "GET", "/", host + [("X-Small", "a" * 300)]).status,
                         200)
        wait_for_log(self.sb, "reason=header-too-large")

        # Half a request line, then silence: 408 at request-timeout, then close.
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            started = time.monotonic()
            s.sendall(b"GET /hal")
            r = read_http_response(SocketReader(s))
            took = time.monotonic() - started
            self.assertEqual(r.status, 408, r.body)
            self.assertTrue(0.9 < took < 2.8, took)
            self.assertTrue(closed_within(s, 2))
        wait_for_log(self.sb, "reason=request-timeout")

        r = http_request(port, "CONNECT", "example.com:443", [("Host", "example.com:443")])
        self.assertEqual(r.status, 405, r.body)

        # Each own answer is counted (pool "-": the requests that reached no pool).
        wait_until(lambda: metric_sum(self.admin, "switchboard_http_requests_total",
                                      listener="web", code="5xx") >= 3, what="5xx counted")
        self.assertGreaterEqual(metric_sum(self.admin, "switchboard_http_requests_total",
                                           listener="web", code="4xx"), 3)
        self.assertGreaterEqual(metric_sum(self.admin, "switchboard_http_requests_total",
                                           listener="web", pool="mixed", code="2xx"), 50)

    def test_host_rules_of_rfc_9112(self):
        heads = []

        def head_echo(conn):  # answers each request with its head as received
            for req in requests_on(conn):
                heads.append(req)
                conn.sendall(http_response_bytes(200, "OK", [("Content-Type", "text/plain")],
                                                 repr(req.headers).encode()))
        backend = ScriptedServer(head_echo)
        self.addCleanup(backend.close)
        port = free_port()
        self.start(pool_yaml("owa", [("owa", backend.port)]) +
                   pool_yaml("other", [("other", backend.port)]),
                   listener_yaml("vip", port, [
                       "{match: {host: mail.example.com, path-prefix: /owa}, pool: owa}",
                       "{pool: other}"]), [port])
        # More than one Host line: 400 from switchboard (RFC 9112 section 3.2).
        r = http_request(port, "GET", "/owa/", [("Host", "mail.example.com"), ("Host", "b.test")])
        self.assertEqual(r.status, 400, r.body)
        self.assertEqual(heads, [])
        # An absolute-form target: its authority is the host, for the routes
        # and for the Host the server gets (section 3.2.2).
        r = http_request(port, "GET", "http://mail.example.com/owa/?x", [("Host", "other.test")])
        self.assertEqual(r.status, 200)
        self.assertIn("pool=owa", self.sb.log())
        self.assertEqual(heads[-1].all("Host"), ["mail.example.com"])

    def test_garbage_gets_400_and_a_close_and_reaches_no_server(self):
        seen = []

        def recorder(conn):  # any byte reaching a server is a failure
            data = conn.recv(65536)
            if data:
                seen.append(data)
        backend = ScriptedServer(recorder)
        self.addCleanup(backend.close)
        ports = self.echo_backends(("good",))
        port = free_port()
        self.start(pool_yaml("trap", [("trap", backend.port)]) +
                   pool_yaml("good", [("good", ports["good"])]),
                   listener_yaml("vip", port, ["{match: {path-prefix: /ok}, pool: good}",
                                               "{pool: trap}"]), [port])
        rng = __import__("random").Random(7)
        inputs = [
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(64) + b"\r\n\r\n",  # TLS
            b"GET / HTTP/1.1\r\nHost: a\r\nBad Header\r\n\r\n",   # no colon
            b"GET / HTTP/9.9\r\nHost: a\r\n\r\n",                   # no such version
            b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n",
            b"G\x00T / HTTP/1.1\r\nHost: a\r\n\r\n",
        ] + [bytes(rng.randrange(256) for _ in range(200)) + b"\r\n\r\n" for _ in range(20)]
        before = metric_sum(self.admin, "switchboard_http_requests_total", code="4xx")
        answered = 0
        for data in inputs:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                s.sendall(data)
                got = b""
                while True:  # read to the close: switchboard must close
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    got += chunk
            if got:
                self.assertTrue(got.startswith(b"HTTP/1.1 400 "), (data, got[:100]))
                answered += 1
        self.assertEqual(seen, [], "garbage reached a server")
        self.assertGreater(answered, len(inputs) // 2)
        wait_until(lambda: metric_sum(self.admin, "switchboard_http_requests_total",
                                      code="4xx") >= before + answered,
                   what="the 400s counted")
        # Still serving.
        self.assertEqual(self.who(port, "a.test", "/ok"), (200, "good"))

    # 6. Chunked bodies with trailers; Expect: 100-continue; a response
    # whose end is the server's close.
    def test_chunked_bodies_trailers_and_expect_continue(self):
        counter = ScriptedServer(body_counter)
        self.addCleanup(counter.close)
        legacy_body = b"".join(b"%06d\n" % i for i in range(10000))

        def legacy(conn):  # no Content-Length: the body ends when the server closes
            read_http_request(SocketReader(conn))
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n"
                         b"\r\n" + legacy_body)
        old_server = ScriptedServer(legacy)
        self.addCleanup(old_server.close)
        port = free_port()
        self.start(pool_yaml("app", [("counter", counter.port)]) +
                   pool_yaml("legacy", [("legacy", old_server.port)]),
                   listener_yaml("vip", port, ["{match: {path-prefix: /legacy}, pool: legacy}",
                                               "{pool: app}"]), [port])

        # An HTTP/1.1 client gets it chunked and keeps its connection; an
        # HTTP/1.0 client gets it as it came, ended by the close.
        client = HttpClient(port)
        self.addCleanup(client.close)
        r = client.request(target="/legacy/a")
        self.assertEqual((r.status, r.header("Transfer-Encoding"), r.body),
                         (200, "chunked", legacy_body))
        self.assertEqual(client.request(target="/legacy/b").body, legacy_body)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"GET /legacy/c HTTP/1.0\r\nHost: app\r\n\r\n")
            r = read_http_response(SocketReader(s))
        self.assertEqual((r.status, r.header("Transfer-Encoding"), r.body),
                         (200, None, legacy_body))

        chunks = [b"hello", os.urandom(100000), b"!"]
        whole = b"".join(chunks)
        digest = hashlib.sha256(whole).hexdigest()
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"POST /chunked HTTP/1.1\r\nHost: app\r\nTransfer-Encoding: chunked\r\n"
                      b"Trailer: X-Checksum\r\n\r\n")
            for c in chunks:
                s.sendall(b"%x\r\n" % len(c) + c + b"\r\n")
                time.sleep(0.05)
            s.sendall(b"0\r\nX-Checksum: " + digest.encode() + b"\r\n\r\n")
            r = read_http_response(SocketReader(s))
        self.assertEqual(r.status, 200)
        got = parse_echo(r.body)
        self.assertEqual((got["bytes"], got["sha256"], got["te"]),
                         (str(len(whole)), digest, "chunked"))
        self.assertEqual(got["trailers"], f"X-Checksum: {digest}")

        data = os.urandom(300 * 1024)
        path = os.path.join(self.workdir, "body.bin")
        with open(path, "wb") as f:
            f.write(data)
        want = (str(len(data)), hashlib.sha256(data).hexdigest())
        url = f"http://127.0.0.1:{port}/upload"
        # A streamed POST, a small PUT (kept for a replay) and a chunked POST,
        # each announcing Expect: curl waits up to 30s for the 100 Continue.
        for args in (["--data-binary", f"@{path}"],
                     ["-T", os.path.join(self.workdir, "small.bin")],
                     ["--data-binary", f"@{path}", "-H", "Transfer-Encoding: chunked"]):
            with self.subTest(args=args):
                if "-T" in args:
                    small = data[:10 * 1024]
                    with open(args[1], "wb") as f:
                        f.write(small)
                    expect = (str(len(small)), hashlib.sha256(small).hexdigest())
                else:
                    expect = want
                started = time.monotonic()
                r = curl("-v", "-H", "Expect: 100-continue", "--expect100-timeout", "30",
                         *args, url, timeout=40)
                took = time.monotonic() - started
                self.assertEqual(r.returncode, 0, r.stderr[-2000:])
                self.assertIn(b"< HTTP/1.1 100 Continue", r.stderr)
                got = parse_echo(r.stdout)
                self.assertEqual((got["bytes"], got["sha256"]), expect)
                self.assertLess(took, 10)

    # 7. Large bodies stream both ways with bounded memory.
    def test_200_mib_upload_and_download_in_bounded_memory(self):
        size = 200 * MiB
        files, uploads = (os.path.join(self.workdir, d) for d in ("files", "uploads"))
        os.makedirs(files)
        os.makedirs(uploads)
        big = os.path.join(files, "big.bin")
        digest = hashlib.sha256()
        block = os.urandom(MiB)
        with open(big, "wb") as f:
            for i in range(size // MiB):
                piece = struct.pack("<I", i) + block[4:]
                digest.update(piece)
                f.write(piece)
        want = digest.hexdigest()
        server = free_port()
        Nginx(self.procs, self.workdir, [{
            "name": "files", "port": server,
            "locations": f"location /big.bin {{ root {files}; }} "
                         f"location /upload/ {{ root {uploads}; dav_methods PUT; "
                         f"create_full_put_path on; client_max_body_size 0; }}"}])
        port = free_port()
        self.start(pool_yaml("files", [("files", server)]),
                   listener_yaml("vip", port, ["{pool: files}"]), [port])
        self.assertEqual(http_request(port, "GET", "/nothing", [("Host", "a")]).status, 404)
        pid = self.sb.proc.pid
        before = memory_kib(pid)

        started = time.monotonic()
        download = subprocess.Popen(["curl", "-sS", "--max-time", "60", "-o", "-",
                                     f"http://127.0.0.1:{port}/big.bin"], stdout=subprocess.PIPE)
        got, received = hashlib.sha256(), 0
        while True:
            data = download.stdout.read(MiB)
            if not data:
                break
            got.update(data)
            received += len(data)
        download.stdout.close()
        self.assertEqual(download.wait(timeout=60), 0)
        self.assertEqual((received, got.hexdigest()), (size, want))
        after_download = memory_kib(pid)

        r = curl("-o", "/dev/null", "-w", "%{http_code}", "-T", big,
                 f"http://127.0.0.1:{port}/upload/big.bin", timeout=60)
        self.assertEqual((r.returncode, r.stdout), (0, b"201"), r.stderr)
        stored = os.path.join(uploads, "upload", "big.bin")
        self.assertEqual(os.path.getsize(stored), size)
        with open(stored, "rb") as f:
            self.assertEqual(hashlib.file_digest(f, "sha256").hexdigest(), want)
        after_upload = memory_kib(pid)
        took = time.monotonic() - started
        growth = (after_upload - before) // 1024
        self.assertLess(growth, 32, f"peak RSS grew {before} -> {after_download} -> "
                        f"{after_upload} KiB moving 2 x 200 MiB in {took:.1f}s")

    # 8. WebSocket through Upgrade.
    def test_websocket_echo_through_upgrade(self):
        exe = websocket_python()
        if exe is None:
            self.fail("no python3 with the websockets module (scripts/setup installs "
                      "python3-websockets)")
        server_script = os.path.join(self.workdir, "ws_echo.py")
        client_script = os.path.join(self.workdir, "ws_client.py")
        with open(server_script, "w") as f:
            f.write(WS_ECHO_SERVER)
        with open(client_script, "w") as f:
            f.write(WS_CLIENT)
        ws_port = free_port()
        ws = self.procs.start([exe, server_script, str(ws_port)], "ws-echo")
        wait_until(lambda: can_connect(ws_port) or ws.poll() is not None, what="websocket echo")
        self.assertIsNone(ws.poll(), sbtest.read_log(ws))
        ports = self.echo_backends(("plain",))
        port = free_port()
        self.start(pool_yaml("ws", [("ws", ws_port)]) + pool_yaml("web", [("plain",
                                                                           ports["plain"])]),
                   listener_yaml("vip", port, ["{match: {path-prefix: /chat}, pool: ws}",
                                               "{pool: web}"]), [port])
        r = subprocess.run([exe, client_script, f"ws://127.0.0.1:{port}/chat"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr[-2000:])
        self.assertEqual(r.stdout.strip(), "echoed 52")
        self.assertRegex(wait_for_log(self.sb, "status=101"), r"path=/chat status=101")
        # The listener goes on serving plain requests.
        self.assertEqual(self.who(port, "app.example.com", "/"), (200, "plain"))

    # 9. NTLM pins the client connection to its server connection.
    def test_ntlm_pins_the_client_to_its_server_connection(self):
        iis = NtlmServer()
        self.addCleanup(iis.close)
        port = free_port()
        self.start(pool_yaml("iis", [("iis", iis.port)],
                             ["keepalive: {max-idle: 8, idle-timeout: 30s}"]),
                   listener_yaml("vip", port, ["{pool: iis}"]), [port])

        r = curl("--ntlm", "-u", "user:pass", "-w", "%{http_code}",
                 f"http://127.0.0.1:{port}/ews/exchange.asmx")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, b"authenticated\n200")

        a, b = HttpClient(port), HttpClient(port)
        self.addCleanup(a.close)
        self.addCleanup(b.close)
        ra = a.request(headers=[("Authorization", ntlm_token(1))])
        rb = b.request(headers=[("Authorization", ntlm_token(1))])
        self.assertEqual((ra.status, rb.status), (401, 401))
        # A's challenged server connection is not in the keep-alive pool
        # for B to take.
        self.assertNotEqual(ra.header("X-Conn"), rb.header("X-Conn"))
        fa = a.request(headers=[("Authorization", ntlm_token(3))])
        fb = b.request(headers=[("Authorization", ntlm_token(3))])
        self.assertEqual((fa.status, fa.header("X-Conn")), (200, ra.header("X-Conn")))
        self.assertEqual((fb.status, fb.header("X-Conn")), (200, rb.header("X-Conn")))
        # Pinned for the connection's life: later requests without
        # credentials go to the authenticated connection ...
        for _ in range(3):
            r = a.request(target="/owa/")
            self.assertEqual((r.status, r.header("X-Conn")), (200, ra.header("X-Conn")))
        # ... and a new client does not get it.
        r = http_request(port, "GET", "/owa/", [("Host", "app.example.com")])
        self.assertEqual(r.status, 401)
        self.assertNotIn(r.header("X-Conn"), (ra.header("X-Conn"), rb.header("X-Conn")))

    # TLS: termination with SNI, mutual TLS, TLS to servers.
    def tls_files(self):
        ca = CertificateAuthority(self.workdir)
        return ca, {n: ca.issue(n) for n in ("a.example.test", "b.example.test")}

    def test_tls_certificate_chosen_by_sni(self):
        ca, certs = self.tls_files()
        ports = self.echo_backends(("b1",))
        port = free_port()
        tls = ["tls:", "  certificates:"] + [
            f"    - {{cert: {c['cert']}, key: {c['key']}}}" for c in certs.values()]
        self.start(pool_yaml("web", [("b1", ports["b1"])]),
                   listener_yaml("vip", port, ["{pool: web}"], ["affinity: cookie"], tls),
                   [port], check_first=True)
        for name in ("b.example.test", "a.example.test"):
            with self.subTest(sni=name):
                r = curl("-v", "--cacert", ca.cert, "--resolve", f"{name}:{port}:127.0.0.1",
                         f"https://{name}:{port}/")
                self.assertEqual(r.returncode, 0, r.stderr[-2000:])
                self.assertRegex(r.stderr.decode(), rf"subject: CN\s*=\s*{re.escape(name)}")
                got = parse_echo(r.stdout)
                self.assertEqual((got["name"], got["xfp"]), ("b1", "https"))
                self.assertRegex(r.stderr.decode(), r"(?i)set-cookie: SWBSRV=[0-9a-f]+;.*Secure")
        # No SNI (an address in the URL): the first certificate.
        r = curl("-v", "-k", f"https://127.0.0.1:{port}/")
        self.assertEqual(r.returncode, 0, r.stderr[-2000:])
        self.assertRegex(r.stderr.decode(), r"subject: CN\s*=\s*a\.example\.test")
        self.assertRegex(wait_for_log(self.sb, "sni=b.example.test"), r"tls=TLSv1\.[23]")

    def test_mutual_tls_requires_a_client_certificate_from_the_ca(self):
        ca, certs = self.tls_files()
        client = ca.issue("client.example.test", client=True)
        stranger = CertificateAuthority(self.workdir, "another CA").issue("intruder",
                                                                          client=True)
        ports = self.echo_backends(("b1",))
        port = free_port()
        c = certs["a.example.test"]
        tls = ["tls:", f"  certificates: [{{cert: {c['cert']}, key: {c['key']}}}]",
               f"  client-ca: {ca.cert}", "  verify-client: required"]
        self.start(pool_yaml("web", [("b1", ports["b1"])]),
                   listener_yaml("vip", port, ["{pool: web}"], lines=tls), [port],
                   check_first=True)
        url = f"https://a.example.test:{port}/"
        common = ["-w", "\n%{http_code}", "--cacert", ca.cert, "--resolve",
                  f"a.example.test:{port}:127.0.0.1"]
        r = curl(*common, "--cert", client["cert"], "--key", client["key"], url)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.endswith(b"\n200"), r.stdout)
        for args in ([], ["--cert", stranger["cert"], "--key", stranger["key"]]):
            with self.subTest(client_cert=bool(args)):
                r = curl(*common, *args, url)
                self.assertNotEqual(r.returncode, 0, r.stdout)
                self.assertNotIn(b"name=b1", r.stdout)
        with open(os.path.join(self.workdir, "b1.conns")) as f:
            self.assertEqual(f.read().count("GET"), 1)  # only the client with a certificate

    def test_tls_to_servers_verifies_their_certificate(self):
        ca = CertificateAuthority(self.workdir)
        other = CertificateAuthority(self.workdir, "another CA")
        backend_cert = ca.issue("backend.example.test")
        ports = self.echo_backends(("secure",), tag="nginx-tls", tls=backend_cert)
        port = free_port()
        server = [("secure", ports["secure"])]
        pools = (pool_yaml("good", server, ["tls: {verify: required, ca: %s, "
                                            "sni: backend.example.test}" % ca.cert]) +
                 pool_yaml("byhost", server, [f"tls: {{verify: required, ca: {ca.cert}}}"]) +
                 pool_yaml("wrongca", server, ["tls: {verify: required, ca: %s, "
                                               "sni: backend.example.test}" % other.cert]))
        self.start(pools, listener_yaml("vip", port, [
            "{match: {path-prefix: /good}, pool: good}",
            "{match: {path-prefix: /byhost}, pool: byhost}",
            "{pool: wrongca}"]), [port], check_first=True)
        r = http_request(port, "GET", "/good", [("Host", "app.example.com")])
        self.assertEqual((r.status, parse_echo(r.body).get("name")), (200, "secure"), r.body)
        # Without `sni:` the request's Host is the name sent and checked,
        # also when an idle connection made for another name is at hand.
        self.assertEqual(self.who(port, "elsewhere.example.test", "/byhost")[0], 502)
        self.assertEqual(self.who(port, "backend.example.test", "/byhost"), (200, "secure"))
        self.assertEqual(self.who(port, "elsewhere.example.test", "/byhost")[0], 502,
                         "a kept-alive connection verified for another name was reused")

        def tls_failures():
            return metric_sum(self.admin, "switchboard_server_connect_failures_total",
                              pool="wrongca", reason="tls")
        before = tls_failures()
        for _ in range(2):
            self.assertEqual(self.who(port, "app.example.com", "/wrong")[0], 502)
        wait_until(lambda: tls_failures() >= before + 2, what="TLS connect failures counted")


if __name__ == "__main__":
    unittest.main()
