"""The admin API (README.md, "Admin API"): /status, drain/enable/disable
(with the bearer token), and the dry-run pick, against real nginx backends."""

import collections
import http.client
import os
import socket
import sys
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
import sbtest  # noqa: E402
from sbtest import (IntegrationTest, admin_call, Nginx, Switchboard, free_port, http_get,  # noqa: E402
                    one_pool_config, servers_yaml)


class AdminApiTest(IntegrationTest):

    def start(self, balance="round-robin", token=None, pool_extra=""):
        self.servers = [{"name": n, "port": free_port()} for n in ("b1", "b2")]
        Nginx(self.procs, self.workdir, self.servers)
        self.port = free_port()
        self.admin = free_port()
        admin_extra = ""
        if token is not None:
            path = os.path.join(self.workdir, "token")
            with open(path, "w") as f:
                f.write(f"  {token}\n")  # surrounding whitespace is not part of it
            admin_extra = f", token-file: {path}"
        config = one_pool_config(self.port, self.admin, servers_yaml(self.servers),
                                 f"    balance: {balance}\n    health: {{check: none}}\n{pool_extra}",
                                 pool="web", admin_extra=admin_extra)
        self.sb = Switchboard(self.procs, self.workdir, config, wait_ports=[self.port])

    def call(self, method, path, token=None):
        return admin_call(self.admin, method, path, token)

    def test_status_lists_pools_and_servers(self):
        self.start()
        code, body = self.call("GET", "/status")
        self.assertEqual(code, 200)
        self.assertIn("version", body)
        (pool,) = body["pools"]
        self.assertEqual((pool["name"], pool["balance"], pool["servers_up"]),
                         ("web", "round-robin", 2))
        for s in pool["servers"]:
            for key in ("name", "address", "state", "admin_state", "health", "weight",
                        "priority", "active_connections", "since", "last_check"):
                self.assertIn(key, s)
            self.assertEqual((s["state"], s["admin_state"], s["health"]),
                             ("up", "enabled", "up"))
            self.assertRegex(s["health_since"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")

    def test_status_names_the_node_its_uptime_and_listeners(self):
        before = int(time.time())
        self.start()
        code, body = self.call("GET", "/status")
        self.assertEqual(code, 200)
        self.assertEqual(body["node"], socket.gethostname())
        self.assertLessEqual(before - 1, body["started"])
        self.assertLessEqual(body["started"], int(time.time()))
        self.assertGreaterEqual(body["uptime_seconds"], 0)
        self.assertLessEqual(body["uptime_seconds"], int(time.time()) - before + 1)
        (vip,) = body["listeners"]
        self.assertEqual((vip["name"], vip["protocol"], vip["listen"], vip["max_connections"]),
                         ("vip", "tcp", [f"127.0.0.1:{self.port}"], 10000))
        # The start-up wait's own connection may not have ended yet.
        sbtest.wait_until(
            lambda: self.call("GET", "/status")[1]["listeners"][0]["active_connections"] == 0,
            timeout=10, what="the start-up wait's connection gone from vip")
        # Held connections count against max-connections as they are open.
        held = [socket.create_connection(("127.0.0.1", self.port), timeout=5) for _ in range(3)]
        try:
            sbtest.wait_until(
                lambda: self.call("GET", "/status")[1]["listeners"][0]["active_connections"] == 3,
                timeout=5, what="3 active connections on vip")
            self.assertGreaterEqual(
                self.call("GET", "/status")[1]["listeners"][0]["connections_total"], 3)
        finally:
            for c in held:
                c.close()
        sbtest.wait_until(
            lambda: self.call("GET", "/status")[1]["listeners"][0]["active_connections"] == 0,
            timeout=10, what="the closed connections gone from vip")
        time.sleep(1.1)
        self.assertGreater(self.call("GET", "/status")[1]["uptime_seconds"], 0)

    def test_health_since_moves_with_health_not_with_the_admin_state(self):
        self.start()
        before = self.call("GET", "/status")[1]["pools"][0]["servers"][0]
        time.sleep(1.1)  # the times have a resolution of one second
        code, after = self.call("POST", f"/pools/web/servers/{before['name']}/drain")
        self.assertEqual(code, 200)
        self.assertEqual(after["health_since"], before["health_since"])
        self.assertNotEqual(after["since"], before["since"])

    def test_drain_keeps_open_connections_and_sends_new_ones_elsewhere(self):
        self.start()
        # An open keep-alive connection on b1 (round robin starts at b1 on a
        # single worker).
        held = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        held.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        first = held.recv(4096)
        on = "b1" if b"b1" in first else "b2"
        code, server = self.call("POST", f"/pools/web/servers/{on}/drain")
        self.assertEqual(code, 200)
        self.assertEqual((server["name"], server["state"], server["admin_state"]),
                         (on, "drain", "drain"))
        other = "b2" if on == "b1" else "b1"
        self.assertEqual({http_get(self.port)[1] for _ in range(6)}, {other})
        held.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")  # still served by the drained one
        self.assertIn(on.encode(), held.recv(4096))
        held.close()
        self.assertEqual(self.call("POST", f"/pools/web/servers/{on}/enable")[0], 200)
        self.assertEqual({http_get(self.port)[1] for _ in range(6)}, {"b1", "b2"})
        self.assertEqual(self.call("POST", f"/pools/web/servers/{on}/disable")[1]["state"],
                         "disabled")
        self.assertEqual({http_get(self.port)[1] for _ in range(4)}, {other})
        _, status = self.call("GET", "/status")
        self.assertEqual(status["pools"][0]["servers_up"], 1)

    def test_unknown_names_methods_and_paths(self):
        self.start()
        self.assertEqual(self.call("POST", "/pools/nope/servers/b1/drain")[0], 404)
        code, body = self.call("POST", "/pools/web/servers/nope/drain")
        self.assertEqual(code, 404)
        self.assertIn("nope", body["error"])
        self.assertEqual(self.call("GET", "/pools/web/servers/b1/drain")[0], 405)
        self.assertEqual(self.call("POST", "/status")[0], 405)
        self.assertEqual(self.call("GET", "/nothing/here")[0], 404)

    def test_token_guards_actions_but_not_reads(self):
        self.start(token="s3cret")
        self.assertEqual(self.call("POST", "/pools/web/servers/b1/drain")[0], 401)
        self.assertEqual(self.call("POST", "/pools/web/servers/b1/drain", token="wrong")[0], 401)
        self.assertEqual(self.call("POST", "/pools/web/servers/b1/drain", token="s3cret")[0], 200)
        self.assertEqual(self.call("GET", "/status")[0], 200)

    def raw(self, method, path, headers):
        """One request with exactly these headers; returns (status, headers)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.admin, timeout=10)
        try:
            conn.request(method, path, headers=headers)
            r = conn.getresponse()
            r.read()
            return r.status, dict(r.getheaders())
        finally:
            conn.close()

    def test_a_post_from_another_web_page_is_refused_token_or_not(self):
        self.start(token="s3cret")
        own = f"127.0.0.1:{self.admin}"
        drain = "/pools/web/servers/b1/drain"
        auth = {"Authorization": "Bearer s3cret"}
        for headers in ({"Origin": "http://evil.example"}, {"Origin": "null"},
                        {"Origin": f"http://{own}", "Sec-Fetch-Site": "cross-site"},
                        {"Origin": f"https://{own}"}):
            with self.subTest(headers=headers):
                self.assertEqual(self.raw("POST", drain, {**headers, **auth})[0], 403)
                self.assertEqual(self.raw("POST", "/reload", {**headers, **auth})[0], 403)
        self.assertEqual(self.call("GET", "/status")[1]["pools"][0]["servers"][0]["admin_state"],
                         "enabled")
        # The status page's own requests, and tools that send no Origin, pass.
        self.assertEqual(self.raw("POST", drain, {"Origin": f"http://{own}",
                                                  "Sec-Fetch-Site": "same-origin", **auth})[0], 200)
        self.assertEqual(self.raw("POST", "/pools/web/servers/b1/enable", auth)[0], 200)

    def test_bearer_in_any_case_and_the_page_cannot_be_framed(self):
        self.start(token="s3cret")
        drain = "/pools/web/servers/b1/drain"
        self.assertEqual(self.raw("POST", drain, {"Authorization": "bearer s3cret"})[0], 200)
        self.assertEqual(self.raw("POST", drain, {"Authorization": "BEARER s3cret"})[0], 200)
        self.assertEqual(self.raw("POST", drain, {"Authorization": "Bearer s3creT"})[0], 401)
        self.assertEqual(self.raw("POST", drain, {"Authorization": "Basic s3cret"})[0], 401)
        code, headers = self.raw("GET", "/", {})
        self.assertEqual(code, 200)
        self.assertEqual(headers.get("Content-Security-Policy"), "frame-ancestors 'none'")
        self.assertEqual(headers.get("X-Frame-Options"), "DENY")

    def test_a_reload_reads_the_token_file_again(self):
        self.start(token="first")
        drain = "/pools/web/servers/b1/drain"
        with open(os.path.join(self.workdir, "token"), "w") as f:
            f.write("second\n")
        self.assertEqual(self.call("POST", "/reload", token="first")[0], 200)
        self.assertEqual(self.call("POST", drain, token="first")[0], 401)
        self.assertEqual(self.call("POST", drain, token="second")[0], 200)
        # A token file that cannot be read refuses the reload; the token stays.
        os.remove(os.path.join(self.workdir, "token"))
        code, body = self.call("POST", "/reload", token="second")
        self.assertEqual(code, 400)
        self.assertIn("token-file", " ".join(body["errors"]))
        self.assertEqual(self.call("POST", drain, token="second")[0], 200)

    def test_dry_run_pick_matches_real_connections(self):
        self.start(balance="source-ip")
        for n in range(2, 10):
            source = f"127.0.0.{n}"
            code, body = self.call("GET", f"/pools/web/pick?client={source}")
            self.assertEqual(code, 200)
            self.assertEqual(body["algorithm"], "source-ip")
            self.assertEqual(body["tier"], 0)
            self.assertEqual(http_get(self.port, interface=source)[1], body["server"])
        # Changes nothing: asking again gives the same answer.
        self.assertEqual(self.call("GET", "/pools/web/pick?client=127.0.0.2")[1]["server"],
                         self.call("GET", "/pools/web/pick?client=127.0.0.2")[1]["server"])
        # A drained server is not offered.
        chosen = self.call("GET", "/pools/web/pick?client=127.0.0.2")[1]["server"]
        self.call("POST", f"/pools/web/servers/{chosen}/drain")
        self.assertNotEqual(self.call("GET", "/pools/web/pick?client=127.0.0.2")[1]["server"],
                            chosen)
        self.assertEqual(self.call("GET", "/pools/web/pick?client=%3A%3A1")[0], 200)
        self.assertEqual(self.call("GET", "/pools/web/pick")[0], 400)
        self.assertEqual(self.call("GET", "/pools/web/pick?client=not-an-ip")[0], 400)
        self.assertEqual(self.call("GET", "/pools/none/pick?client=127.0.0.1")[0], 404)

    def test_slow_start_ramps_an_enabled_server(self):
        self.start(balance="weighted-round-robin", pool_extra="    slow-start: 3s")
        self.assertEqual(self.call("POST", "/pools/web/servers/b2/disable")[0], 200)
        self.assertEqual({http_get(self.port)[1] for _ in range(4)}, {"b1"})
        self.assertEqual(self.call("POST", "/pools/web/servers/b2/enable")[0], 200)
        # Within the first ~10% of the window b2 counts with ~10% of its weight.
        early = collections.Counter(http_get(self.port)[1] for _ in range(20))
        self.assertLessEqual(early["b2"], 4, early)
        time.sleep(3.2)
        late = collections.Counter(http_get(self.port)[1] for _ in range(20))
        self.assertEqual(late, {"b1": 10, "b2": 10})

    def test_dry_run_with_an_affinity_key(self):
        self.start(balance="maglev")
        code, body = self.call("GET", "/pools/web/pick?client=127.0.0.1&key=user42")
        self.assertEqual(code, 200)
        self.assertEqual(len(body["key"]), 16)
        self.assertIn(body["server"], ("b1", "b2"))

    # What one admin client can take is bounded (docs/configuration.md, "admin").

    def healthz(self):
        """The status of GET /healthz on a new connection, or None when the
        connection fails."""
        return sbtest.healthz(self.admin)[0]

    def send_and_read(self, data):
        """Sends `data` on a new admin connection (the server may stop reading
        part-way) and returns everything it answers before it closes."""
        with socket.create_connection(("127.0.0.1", self.admin), timeout=5) as s:
            try:
                s.sendall(data)
            except OSError:
                pass  # refused part-way: what it answered is still to be read
            answer = b""
            try:
                while chunk := s.recv(4096):
                    answer += chunk
            except (ConnectionResetError, socket.timeout):
                pass
            return answer

    def test_an_oversize_request_gets_431_or_413_and_the_admin_keeps_answering(self):
        self.start()
        big_header = (b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (100 * 1024) +
                      b"\r\n\r\n")
        self.assertTrue(self.send_and_read(big_header).startswith(b"HTTP/1.1 431"))
        big_body = (b"POST /status HTTP/1.1\r\nHost: x\r\nContent-Length: 102400\r\n\r\n" +
                    b"a" * (100 * 1024))
        self.assertTrue(self.send_and_read(big_body).startswith(b"HTTP/1.1 413"))
        self.assertEqual(self.healthz(), 200)

    def test_a_slowloris_client_is_closed(self):
        self.start()
        with socket.create_connection(("127.0.0.1", self.admin), timeout=5) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nX-Slow: ")
            started = time.monotonic()
            closed = False
            # One more header byte every second, never the end of the headers.
            while not closed and time.monotonic() - started < 20:
                try:
                    s.sendall(b"a")
                except OSError:
                    closed = True
                    break
                closed = sbtest.closed_within(s, 1.0)
                self.assertEqual(self.healthz(), 200)  # others are served meanwhile
            self.assertTrue(closed, "a client trickling its headers was not closed in 20s")

    def test_connections_beyond_the_cap_are_closed_at_once(self):
        self.start()
        held = [socket.create_connection(("127.0.0.1", self.admin), timeout=5)
                for _ in range(100)]
        try:
            gone = set()

            def closed():
                for i, s in enumerate(held):
                    if i in gone:
                        continue
                    s.setblocking(False)
                    try:
                        if s.recv(1) == b"":
                            gone.add(i)
                    except BlockingIOError:
                        pass  # still open, waiting for its request
                    except ConnectionResetError:
                        gone.add(i)
                return len(gone)
            # 64 are served (idle, each until its request deadline); the rest
            # are closed on arrival. Not more than those: a held one is open.
            sbtest.wait_until(lambda: closed() >= 100 - 64, timeout=5,
                              what="the connections beyond the cap closed")
            self.assertLess(closed(), 100)
        finally:
            for s in held:
                s.close()
        sbtest.wait_until(lambda: self.healthz() == 200, what="/healthz after the flood")

    def test_out_of_descriptors_pauses_the_admin_accept_loop(self):
        self.admin = free_port()
        # 64 descriptors, some taken at start: the held connections exhaust
        # them before they reach the admin's own cap of 64 connections.
        proc = sbtest.start_with_few_descriptors(self.procs, self.workdir, free_port(), self.admin,
                                                 free_port())
        sbtest.wait_until(lambda: self.healthz() == 200, what="switchboard")
        held = [socket.create_connection(("127.0.0.1", self.admin), timeout=5)
                for _ in range(60)]
        try:
            time.sleep(0.5)
            used = sbtest.cpu_seconds_used_in(proc.pid, 1.0)
            self.assertLess(used, 0.3, "the admin accept loop spins while out of descriptors")
        finally:
            for s in held:
                s.close()
        sbtest.wait_until(lambda: self.healthz() == 200, what="recovery")
        self.assertIn("admin: accept failed", sbtest.read_log(proc))
        self.assertIsNone(proc.poll())


if __name__ == "__main__":
    unittest.main()
