"""The `http` listener over its life and in its records (docs/configuration.md,
"The http listener"): what a reload and a graceful stop do to client
connections idle or in the middle of a request, `retry-on: [503]`,
`affinity: source-ip`, the access log's fields and the request metrics.
Real peers: nginx echo backends, scripted backends that answer slowly or
with 503, curl, raw sockets from several loopback addresses."""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from http_test import curl, listener_yaml, pool_yaml  # noqa: E402
from sbtest import (CertificateAuthority, HttpClient, IntegrationTest, Nginx,  # noqa: E402
                    ScriptedServer, SocketReader, Switchboard, admin_call, closed_within,
                    echo_location, free_port, http_request, http_response_bytes, metric_sum,
                    parse_echo, read_http_response, requests_on, wait_for_log, wait_until)

HOST = [("Host", "app.example.com")]


class SlowServer(ScriptedServer):
    """A backend that answers each request `delay` seconds after it got it
    (200, keep-alive); `received` is set when a request has arrived."""

    def __init__(self, delay=2.0, body=b"slow\n"):
        self.delay = delay
        self.body = body
        self.received = threading.Event()
        self.requests = 0
        super().__init__(self.serve)

    def serve(self, conn):
        for _ in requests_on(conn):
            self.requests += 1
            self.received.set()
            time.sleep(self.delay)
            conn.sendall(http_response_bytes(200, "OK", [("Content-Type", "text/plain")],
                                             self.body))


class StatusServer(ScriptedServer):
    """A backend that answers every request with `status` and its own name
    in the body, and remembers the methods it got."""

    def __init__(self, status, name):
        self.status = status
        self.name = name
        self.methods = []
        super().__init__(self.serve)

    def serve(self, conn):
        for req in requests_on(conn):
            self.methods.append(req.method)
            reason = "OK" if self.status == 200 else "Service Unavailable"
            conn.sendall(http_response_bytes(self.status, reason, [("Content-Type", "text/plain")],
                                             f"{self.name}\n".encode()))


class InFlight:
    """One request on its own connection, in a thread: the response (or the
    error) and when it came."""

    def __init__(self, port, target):
        self.client = HttpClient(port, timeout=15)
        self.response = None
        self.error = None
        self.done_at = None
        self.thread = threading.Thread(target=self._run, args=(target,), daemon=True)
        self.thread.start()

    def _run(self, target):
        try:
            self.response = self.client.request(target=target)
        except Exception as e:  # reported by the test that waits
            self.error = e
        self.done_at = time.monotonic()

    def wait(self, timeout=15):
        self.thread.join(timeout)
        if self.thread.is_alive():
            raise AssertionError("the request in flight got no response")
        if self.error:
            raise AssertionError(f"the request in flight failed: {self.error!r}")
        return self.response


class HttpLifecycleTest(IntegrationTest):

    def start(self, pools, listeners, ports, grace="1s", top=""):
        """switchboard with one worker; `ports` are the listeners' ports to
        wait for."""
        self.admin = free_port()
        self.yaml_head = (f"workers: 1\nshutdown-grace: {grace}\n{top}"
                          f"admin: {{listen: 127.0.0.1:{self.admin}}}\n")
        self.sb = Switchboard(self.procs, self.workdir,
                              f"{self.yaml_head}pools:\n{pools}listeners:\n{listeners}",
                              wait_ports=ports)

    def reload(self, pools, listeners):
        with open(self.sb.path, "w") as f:
            f.write(f"{self.yaml_head}pools:\n{pools}listeners:\n{listeners}")
        status, body = admin_call(self.admin, "POST", "/reload")
        self.assertEqual((status, body.get("result")), (200, "reloaded"), body)

    def echo_backends(self, names):
        ports = {n: free_port() for n in names}
        Nginx(self.procs, self.workdir,
              [{"name": n, "port": p, "locations": echo_location(n)} for n, p in ports.items()])
        return ports

    def name_of(self, response):
        self.assertEqual(response.status, 200, response.body)
        return parse_echo(response.body)["name"]

    # 1. Reload.
    def test_reload_closes_idle_clients_finishes_requests_in_flight_and_routes_anew(self):
        ports = self.echo_backends(("old", "new"))
        slow = SlowServer()
        self.addCleanup(slow.close)
        port = free_port()
        pools = (pool_yaml("old", [("old", ports["old"])]) +
                 pool_yaml("new", [("new", ports["new"])]) +
                 pool_yaml("slow", [("slow", slow.port)]))

        def listener(default):
            return listener_yaml("vip", port, ["{match: {path-prefix: /slow}, pool: slow}",
                                               f"{{pool: {default}}}"])
        self.start(pools, listener("old"), [port])

        idle = HttpClient(port)
        self.addCleanup(idle.close)
        self.assertEqual(self.name_of(idle.request(target="/before")), "old")
        flight = InFlight(port, "/slow/report")
        self.addCleanup(flight.client.close)
        self.assertTrue(slow.received.wait(5), "the slow server got no request")

        started = time.monotonic()
        self.reload(pools, listener("new"))
        # The connection idle between two requests: closed at once.
        self.assertTrue(closed_within(idle.sock, 1.0),
                        "a keep-alive client idle at the reload was not closed within 1s")
        # A new connection: the new routes.
        self.assertEqual(self.name_of(http_request(port, "GET", "/after", HOST)), "new")
        # The request in flight: its answer, with Connection: close, then the close.
        r = flight.wait()
        self.assertEqual((r.status, r.body), (200, b"slow\n"))
        self.assertEqual((r.header("Connection") or "").lower(), "close", r.headers)
        self.assertGreater(flight.done_at - started, 0.5, "answered before the server did")
        self.assertTrue(closed_within(flight.client.sock, 1.0))
        self.assertEqual(slow.requests, 1)

    def test_reload_serves_a_connection_opened_before_it_whose_request_comes_after(self):
        # "No refused connection while reloading": a client that connected
        # just before the reload and sends its request just after is answered
        # (with Connection: close). Closing it unanswered would fail its
        # first request: clients resend a request only on a connection they
        # had used before (curl: "Empty reply from server").
        ports = self.echo_backends(("old", "new"))
        port = free_port()
        pools = (pool_yaml("old", [("old", ports["old"])]) +
                 pool_yaml("new", [("new", ports["new"])]))
        self.start(pools, listener_yaml("vip", port, ["{pool: old}"]), [port])
        with socket.create_connection(("127.0.0.1", port), timeout=5) as fresh:
            time.sleep(0.2)  # accepted and waiting for its first request
            self.reload(pools, listener_yaml("vip", port, ["{pool: new}"]))
            time.sleep(0.3)
            try:
                fresh.sendall(b"GET /first HTTP/1.1\r\nHost: app.example.com\r\n\r\n")
                r = read_http_response(SocketReader(fresh))
            except (EOFError, ConnectionResetError, BrokenPipeError) as e:
                self.fail(f"a connection accepted before the reload was closed before its "
                          f"first request: {e!r}")
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual((r.header("Connection") or "").lower(), "close", r.headers)

    # 2. Graceful stop.
    def test_sigterm_closes_idle_keepalive_clients_and_exits_at_once(self):
        ports = self.echo_backends(("b1",))
        port = free_port()
        self.start(pool_yaml("web", [("b1", ports["b1"])]),
                   listener_yaml("vip", port, ["{pool: web}"]), [port], grace="20s")
        clients = [HttpClient(port) for _ in range(3)]
        for c in clients:
            self.addCleanup(c.close)
            self.assertEqual(self.name_of(c.request()), "b1")
        started = time.monotonic()
        self.sb.proc.send_signal(signal.SIGTERM)
        for c in clients:
            self.assertTrue(closed_within(c.sock, 1.0),
                            "an idle keep-alive client was not closed within 1s of SIGTERM")
        try:
            code = self.sb.proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            self.fail("with only idle keep-alive clients left, switchboard did not exit within "
                      "3s of SIGTERM (shutdown-grace: 20s)")
        self.assertEqual(code, 0, self.sb.log())
        self.assertLess(time.monotonic() - started, 3)

    def test_sigterm_does_not_wait_for_a_connection_that_sent_nothing(self):
        # A client that connected and sent nothing yet (a browser's
        # preconnect) has no request in progress: it is closed at once like
        # an idle keep-alive client, and does not hold the stop for
        # shutdown-grace.
        ports = self.echo_backends(("b1",))
        port = free_port()
        self.start(pool_yaml("web", [("b1", ports["b1"])]),
                   listener_yaml("vip", port, ["{pool: web}"]), [port], grace="20s")
        silent = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.addCleanup(silent.close)
        time.sleep(0.3)  # accepted
        self.sb.proc.send_signal(signal.SIGTERM)
        closed = closed_within(silent, 1.0)
        try:
            code = self.sb.proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            self.sb.proc.kill()
            self.fail(f"a connection that sent nothing held the stop for more than 3s "
                      f"(shutdown-grace: 20s); closed within 1s: {closed}")
        self.assertTrue(closed)
        self.assertEqual(code, 0)

    def test_sigterm_lets_a_request_in_flight_finish(self):
        ports = self.echo_backends(("b1",))
        slow = SlowServer()
        self.addCleanup(slow.close)
        port = free_port()
        self.start(pool_yaml("web", [("b1", ports["b1"])]) + pool_yaml("slow", [("s", slow.port)]),
                   listener_yaml("vip", port, ["{match: {path-prefix: /slow}, pool: slow}",
                                               "{pool: web}"]), [port], grace="20s")
        idle = HttpClient(port)
        self.addCleanup(idle.close)
        self.assertEqual(self.name_of(idle.request()), "b1")
        flight = InFlight(port, "/slow/x")
        self.addCleanup(flight.client.close)
        self.assertTrue(slow.received.wait(5), "the slow server got no request")
        started = time.monotonic()
        self.sb.proc.send_signal(signal.SIGTERM)
        self.assertTrue(closed_within(idle.sock, 1.0))
        self.assertIsNone(self.sb.proc.poll(), "exited with a request in flight")
        r = flight.wait()
        self.assertEqual((r.status, r.body), (200, b"slow\n"))
        self.assertEqual((r.header("Connection") or "").lower(), "close", r.headers)
        try:
            code = self.sb.proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            self.fail("switchboard did not exit within 3s of the last response "
                      "(shutdown-grace: 20s)")
        exited = time.monotonic()
        self.assertEqual(code, 0)
        self.assertLessEqual(flight.done_at, exited)
        self.assertLess(exited - started, 5)

    # 3. retry-on: 503.
    def retry_setup(self, retry_on):
        bad, bad2 = StatusServer(503, "bad"), StatusServer(503, "bad2")
        good = StatusServer(200, "good")
        for s in (bad, bad2, good):
            self.addCleanup(s.close)
        port = free_port()
        # first-available: the 503 server is always asked first.
        self.start(pool_yaml("mixed", [("bad", bad.port), ("good", good.port)],
                             ["retries: 2", "balance: first-available"]) +
                   pool_yaml("all503", [("bad", bad.port), ("bad2", bad2.port)], ["retries: 2"]),
                   listener_yaml("vip", port, ["{match: {path-prefix: /all}, pool: all503}",
                                               "{pool: mixed}"], [f"retry-on: {retry_on}"]),
                   [port])
        return port, bad, bad2, good

    def check_503_retries(self, port, bad, bad2, good):
        for i in range(3):
            r = http_request(port, "GET", f"/get{i}", HOST)
            self.assertEqual((r.status, r.body), (200, b"good\n"), "a GET past a 503")
        self.assertEqual((bad.methods, good.methods), (["GET"] * 3, ["GET"] * 3))
        self.assertRegex(wait_for_log(self.sb, "path=/get2"),
                         r"path=/get2 status=200 .*first_byte_ms=[\d.]+ pool=mixed server=good "
                         r"retries=1 ")
        # Every server answers 503: the service is unavailable, so
        # switchboard's own 503 with Retry-After; each server asked once.
        del bad.methods[:]
        r = http_request(port, "GET", "/all", HOST)
        self.assertEqual(r.status, 503, r.body)
        self.assertTrue(r.body.startswith(b"switchboard:"), r.body)
        self.assertEqual(r.header("Retry-After"), "5")
        self.assertEqual((bad.methods, bad2.methods), (["GET"], ["GET"]))
        line = [ln for ln in wait_for_log(self.sb, "path=/all ").splitlines()
                if "path=/all " in ln][0]
        self.assertRegex(line, r"status=503 .*reason=servers-unavailable")
        # The servers' 503s did not reach the client: no first byte to time.
        self.assertNotIn("first_byte_ms", line)

    def test_retry_on_503_goes_past_a_503_for_get_not_for_post(self):
        port, bad, bad2, good = self.retry_setup("[connect-failure, reset, 503]")
        self.check_503_retries(port, bad, bad2, good)
        # A POST is not sent twice: the server's 503 is the client's.
        del bad.methods[:]
        r = http_request(port, "POST", "/post", HOST, body=b"a=1")
        self.assertEqual((r.status, r.body), (503, b"bad\n"))
        self.assertEqual((bad.methods, good.methods.count("POST")), (["POST"], 0))

    def test_retry_on_503_alone_retries(self):
        # `retry-on: [503]` without connect-failure: a 503 still goes to the
        # next server (docs/configuration.md, `retry-on`).
        self.check_503_retries(*self.retry_setup("[503]"))

    def test_retry_on_reset_alone_retries(self):
        # The same for `retry-on: [reset]`: a server that closes without a
        # response is followed by the next one for a GET.
        hits = []

        def closer(conn):  # reads the request, closes without a word
            conn.recv(65536)
            hits.append(1)
        resetting = ScriptedServer(closer)
        self.addCleanup(resetting.close)
        good = StatusServer(200, "good")
        self.addCleanup(good.close)
        port = free_port()
        self.start(pool_yaml("web", [("closer", resetting.port), ("good", good.port)],
                             ["retries: 2", "balance: first-available"]),
                   listener_yaml("vip", port, ["{pool: web}"], ["retry-on: [reset]"]), [port])
        r = http_request(port, "GET", "/", HOST)
        self.assertEqual((r.status, r.body), (200, b"good\n"))
        self.assertEqual((len(hits), good.methods), (1, ["GET"]))

    # 4. affinity: source-ip.
    def test_source_ip_affinity_keeps_each_client_on_its_server(self):
        names = ("b1", "b2", "b3")
        ports = self.echo_backends(names)
        port = free_port()
        self.start(pool_yaml("web", [(n, ports[n]) for n in names], ["balance: round-robin"]),
                   listener_yaml("vip", port, ["{pool: web}"], ["affinity: source-ip"]), [port])

        def server_of(source, n=3):
            got = {self.name_of(http_request(port, "GET", "/", HOST, source=source))
                   for _ in range(n)}
            self.assertEqual(len(got), 1, f"{source} went to {got}")
            return got.pop()

        where = {f"127.0.0.{i}": server_of(f"127.0.0.{i}") for i in range(2, 41)}
        # round-robin alone would spread each client's requests; the hash
        # spreads the clients.
        self.assertEqual(set(where.values()), set(names), where)
        first = {}
        for source, name in where.items():
            first.setdefault(name, source)
        a, b, c = (first[n] for n in names)  # clients of b1, b2 and b3
        self.assertEqual(admin_call(self.admin, "POST", "/pools/web/servers/b1/disable")[0], 200)
        moved = server_of(a)
        self.assertIn(moved, ("b2", "b3"))
        self.assertEqual((server_of(b), server_of(c)), ("b2", "b3"),
                         "clients of the servers that stay moved")
        # Only b1's clients moved.
        for source, name in where.items():
            if name != "b1":
                self.assertEqual(server_of(source, 1), name, source)
        self.assertEqual(admin_call(self.admin, "POST", "/pools/web/servers/b1/enable")[0], 200)
        self.assertEqual(server_of(a), "b1")

    # 5. The access log.
    def test_access_log_fields_over_tls_and_access_false(self):
        ca = CertificateAuthority(self.workdir)
        cert = ca.issue("a.example.test")
        ports = self.echo_backends(("b1",))
        closed = free_port()
        port = free_port()
        tls = ["tls:", f"  certificates: [{{cert: {cert['cert']}, key: {cert['key']}}}]"]
        # first-available with a closed port first: one retry to log.
        pools = pool_yaml("web", [("gone", closed), ("b1", ports["b1"])],
                          ["balance: first-available", "retries: 2"])
        self.start(pools, listener_yaml("secure", port, ["{pool: web}"], lines=tls), [port])
        body = b"x" * 1234
        # The same fields whether the request came by HTTP/1.1 or HTTP/2.
        for flag, protocol in (("--http1.1", "h1"), ("--http2", "h2")):
            r = curl("-o", "-", "-w", "|%{size_download}", "--cacert", ca.cert, "--resolve",
                     f"a.example.test:{port}:127.0.0.1", "--tlsv1.3", flag, "--data-binary",
                     body, f"https://a.example.test:{port}/owa/page?x=1")
            self.assertEqual(r.returncode, 0, r.stderr)
            out, size = r.stdout.rsplit(b"|", 1)
            self.assertEqual(parse_echo(out)["name"], "b1")
            marker = f"protocol={protocol}"
            log = wait_for_log(self.sb, marker)
            line = [ln for ln in log.splitlines()
                    if "access listener=secure" in ln and marker in ln][0]
            fields = dict(f.split("=", 1) for f in line[line.index("access ") + 7:].split()
                          if "=" in f)
            expected = {"listener": "secure", "method": "POST", "host": f"a.example.test:{port}",
                        "path": "/owa/page?x=1", "status": "200", "bytes_in": "1234",
                        "bytes_out": size.decode(), "pool": "web", "server": "b1",
                        "retries": "1", "protocol": protocol, "tls": "TLSv1.3",
                        "sni": "a.example.test", "reason": "-"}
            self.assertEqual({k: fields.get(k) for k in expected}, expected, line)
            self.assertRegex(fields["client"], r"^127\.0\.0\.1:\d+$")
            self.assertRegex(fields["duration_ms"], r"^\d+\.\d{3}$")
            # Retries included: the request's head to the answer's head.
            self.assertLessEqual(float(fields["first_byte_ms"]), float(fields["duration_ms"]))

        # log: {access: false}: not one access line.
        quiet = free_port()
        sb = Switchboard(self.procs, self.workdir,
                         f"workers: 1\nlog: {{access: false}}\npools:\n{pools}listeners:\n" +
                         listener_yaml("quiet", quiet, ["{pool: web}"]), wait_ports=[quiet],
                         name="quiet")
        self.assertEqual(self.name_of(http_request(quiet, "GET", "/q", HOST)), "b1")
        self.assertEqual(http_request(quiet, "GET", "/none", [("Host", "a")]).status, 200)
        time.sleep(0.3)
        self.assertNotIn("access ", sb.log())

    # 6. Metrics.
    def test_request_and_server_response_metrics_count_each_request(self):
        ports = self.echo_backends(("b1",))
        port = free_port()
        self.start(pool_yaml("web", [("b1", ports["b1"])]),
                   listener_yaml("vip", port, ["{pool: web}"]), [port])

        def server_count():
            return metric_sum(self.admin, "switchboard_server_response_duration_seconds_count",
                              pool="web", server="b1")

        def request_count():
            return metric_sum(self.admin, "switchboard_http_request_duration_seconds_count",
                              listener="vip", pool="web")
        self.assertEqual((server_count(), request_count()), (0, 0))
        client = HttpClient(port)
        self.addCleanup(client.close)
        for i in range(4):
            self.assertEqual(client.request(target=f"/k{i}").status, 200)
        for i in range(3):
            self.assertEqual(http_request(port, "GET", f"/n{i}", HOST).status, 200)
        wait_until(lambda: request_count() == 7 and server_count() == 7, timeout=5,
                   what="7 requests counted")
        time.sleep(0.3)
        self.assertEqual((server_count(), request_count()), (7, 7))


if __name__ == "__main__":
    unittest.main()
