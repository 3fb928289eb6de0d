"""Reload (docs/configuration.md, README.md "Admin API"): POST /reload and SIGHUP against real nginx backends.
Listeners that stay keep their sockets, pools swap at once, servers that stay
keep their health and admin state, open connections go on, and a bad file is
refused with its errors while the old configuration keeps serving."""

import os
import re
import signal
import socket
import subprocess
import sys
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from sbtest import (IntegrationTest, metric_value, admin_call, Nginx, Switchboard, can_connect, free_port,  # noqa: E402
                    http_get, wait_until)

TOKEN = "s3cret"


class ReloadTest(IntegrationTest):

    def setUp(self):
        super().setUp()
        self.servers = {n: free_port() for n in ("b1", "b2", "b3")}
        Nginx(self.procs, self.workdir,
              [{"name": n, "port": p} for n, p in self.servers.items()])
        self.port = free_port()
        self.admin = free_port()
        self.token_file = os.path.join(self.workdir, "token")
        with open(self.token_file, "w") as f:
            f.write(TOKEN + "\n")

    # --- helpers -----------------------------------------------------------

    def config(self, servers, pool_lines="    health: {check: none}\n", listeners=None,
               extra_pools=""):
        items = "\n".join(f"      - {{address: 127.0.0.1:{self.servers[n]}, name: {n}}}"
                          if n in self.servers else n for n in servers)
        listeners = listeners or f"""\
  vip:
    listen: ["127.0.0.1:{self.port}"]
    pool: web
"""
        return f"""\
workers: 2
shutdown-grace: 2s
admin: {{listen: 127.0.0.1:{self.admin}, token-file: {self.token_file}}}
pools:
  web:
{pool_lines}    servers:
{items}
{extra_pools}listeners:
{listeners}"""

    def start(self, text):
        self.sb = Switchboard(self.procs, self.workdir, text, wait_ports=[self.port, self.admin])

    def rewrite(self, text):
        with open(self.sb.path, "w") as f:
            f.write(text)

    def call(self, method, path, token=TOKEN):
        return admin_call(self.admin, method, path, token)

    def reload(self):
        return self.call("POST", "/reload")

    def servers_of(self, pool="web"):
        body = self.call("GET", "/status")[1]
        (p,) = [p for p in body["pools"] if p["name"] == pool]
        return {s["name"]: s for s in p["servers"]}

    def answers(self, n=12, port=None):
        return {http_get(port or self.port)[1] for _ in range(n)}

    def metric(self, series):
        return metric_value(self.admin, series)

    # --- tests -------------------------------------------------------------

    def test_reload_swaps_servers_and_open_connections_go_on(self):
        self.start(self.config(["b1", "b2"]))
        self.assertEqual(self.answers(), {"b1", "b2"})
        held = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        held.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        first = held.recv(4096).decode()
        on = "b1" if "b1" in first else "b2"

        self.rewrite(self.config(["b2", "b3"]))
        code, body = self.reload()
        self.assertEqual(code, 200, body)
        self.assertEqual(body["result"], "reloaded")
        self.assertEqual(set(self.servers_of()), {"b2", "b3"})
        self.assertEqual(self.answers(), {"b2", "b3"})
        # The connection opened before the reload is still relayed, to the
        # server it had, whether or not that server stayed.
        held.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertIn(on, held.recv(4096).decode())
        held.close()
        self.assertIn("reload (POST /reload)", self.sb.log())
        self.assertEqual(self.metric('switchboard_config_reloads_total{result="success"}'), 1)
        # The server that left is gone from /metrics too.
        with urllib.request.urlopen(f"http://127.0.0.1:{self.admin}/metrics", timeout=10) as r:
            text = r.read().decode()
        self.assertNotIn('server="b1"', text)
        self.assertIn('server="b3"', text)

    def test_invalid_reload_is_refused_and_the_old_configuration_serves(self):
        self.start(self.config(["b1"]))
        before = self.metric("switchboard_config_last_reload_success_timestamp_seconds")
        with open(self.sb.path) as f:
            good = f.read()
        # An unknown key (a typo) on a known line.
        self.rewrite(good.replace("    health: {check: none}\n",
                                  "    health: {check: none}\n    ballance: round-robin\n"))
        code, body = self.reload()
        self.assertEqual(code, 400, body)
        self.assertIn("running configuration stays", body["error"])
        self.assertTrue(any(re.search(r"switchboard\.yaml:7:5: .*ballance", e)
                            for e in body["errors"]), body["errors"])
        self.assertEqual(self.answers(4), {"b1"})
        self.assertEqual(self.metric('switchboard_config_reloads_total{result="failure"}'), 1)
        self.assertEqual(self.metric('switchboard_config_reloads_total{result="success"}'), 0)

        # A file that parses but cannot run: a new listener on an address
        # something else holds. Nothing changes, the other listener included.
        holder = socket.socket()
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        self.rewrite(self.config(["b2"], listeners=f"""\
  vip:
    listen: ["127.0.0.1:{self.port}"]
    pool: web
  extra:
    listen: ["127.0.0.1:{taken}"]
    pool: web
"""))
        code, body = self.reload()
        self.assertEqual(code, 400, body)
        self.assertTrue(any(f"127.0.0.1:{taken}" in e for e in body["errors"]), body["errors"])
        self.assertEqual(self.answers(4), {"b1"})
        self.assertEqual(set(self.servers_of()), {"b1"})
        holder.close()
        self.assertEqual(self.metric('switchboard_config_reloads_total{result="failure"}'), 2)

        # Fixed: it applies, and the timestamp moves.
        self.rewrite(self.config(["b2"]))
        self.assertEqual(self.reload()[0], 200)
        self.assertEqual(self.answers(4), {"b2"})
        self.assertGreater(self.metric("switchboard_config_last_reload_success_timestamp_seconds"),
                           before)

    def test_reload_needs_the_token_and_post(self):
        self.start(self.config(["b1"]))
        self.assertEqual(self.call("POST", "/reload", token=None)[0], 401)
        self.assertEqual(self.call("POST", "/reload", token="wrong")[0], 401)
        self.assertEqual(self.call("GET", "/reload")[0], 405)
        self.assertEqual(self.metric('switchboard_config_reloads_total{result="success"}'), 0)

    def test_sighup_reloads(self):
        self.start(self.config(["b1"]))
        self.rewrite(self.config(["b3"]))
        self.sb.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: set(self.servers_of()) == {"b3"}, 10, what="SIGHUP reload")
        self.assertEqual(self.answers(4), {"b3"})
        self.assertIn("reload (SIGHUP)", self.sb.log())
        # A bad file on SIGHUP: logged with its errors, the process runs on.
        with open(self.sb.path, "a") as f:
            f.write("bogus-key: 1\n")
        self.sb.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: "reload (SIGHUP) refused" in self.sb.log(), 10, what="refusal")
        self.assertIn("bogus-key", self.sb.log())
        self.assertIsNone(self.sb.proc.poll())
        self.assertEqual(self.answers(4), {"b3"})

    def test_listeners_that_stay_keep_their_socket_new_ones_open_removed_ones_close(self):
        self.start(self.config(["b1"]))
        second = free_port()
        both = f"""\
  vip:
    listen: ["127.0.0.1:{self.port}"]
    pool: other
  second:
    listen: ["127.0.0.1:{second}"]
    pool: web
"""
        other = f"""\
  other:
    health: {{check: none}}
    servers:
      - {{address: 127.0.0.1:{self.servers['b3']}, name: b3}}
"""
        # Connected but not yet relaying: accepted by the old configuration.
        early = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        self.rewrite(self.config(["b1"], listeners=both, extra_pools=other))
        self.assertEqual(self.reload()[0], 200)
        # The kept address now serves its new pool; the new address serves too.
        self.assertEqual(self.answers(4), {"b3"})
        self.assertEqual(self.answers(4, port=second), {"b1"})
        early.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        self.assertIn("HTTP/1.1 200", early.recv(4096).decode())
        early.close()

        # `second` removed: its address closes; `vip` stays open throughout.
        self.rewrite(self.config(["b1"], listeners=f"""\
  vip:
    listen: ["127.0.0.1:{self.port}"]
    pool: web
"""))
        self.assertEqual(self.reload()[0], 200)
        wait_until(lambda: not can_connect(second), 5, what="the removed listener to close")
        self.assertEqual(self.answers(4), {"b1"})

    def test_health_and_drain_of_servers_that_stay_carry_over(self):
        dead = free_port()  # nothing listens: its check fails
        checked = "    health: {check: tcp, interval: 300ms, timeout: 200ms, rise: 2, fall: 1}\n"
        text = self.config(["b1", "b2", f"      - {{address: 127.0.0.1:{dead}, name: dead}}"],
                           pool_lines=checked)
        self.start(text)
        wait_until(lambda: self.servers_of()["dead"]["health"] == "down", 10, what="dead down")
        self.assertEqual(self.call("POST", "/pools/web/servers/b1/drain")[0], 200)
        before = self.servers_of()

        # The same file again: nothing an operator or a check decided changes.
        self.assertEqual(self.reload()[0], 200)
        after = self.servers_of()
        self.assertEqual(after["dead"]["health"], "down")
        self.assertEqual(after["dead"]["since"], before["dead"]["since"])
        self.assertEqual(after["b1"]["admin_state"], "drain")
        self.assertEqual(self.answers(6), {"b2"})
        # Still down a few check intervals later: no check restarted as "up".
        time.sleep(1)
        self.assertEqual(self.servers_of()["dead"]["health"], "down")
        self.assertNotIn("dead up", self.sb.log())

        # The file now says b1 is enabled and b2 drained: the file wins
        # where it changed.
        self.rewrite(text.replace("name: b2}", "name: b2, state: drain}"))
        self.assertEqual(self.reload()[0], 200)
        s = self.servers_of()
        self.assertEqual((s["b1"]["admin_state"], s["b2"]["admin_state"]), ("drain", "drain"))

        # A changed check restarts the check, which decides at once: the
        # dead server's new check on b3's port passes.
        self.rewrite(text.replace("interval: 300ms",
                                  f"interval: 250ms, port: {self.servers['b3']}"))
        self.assertEqual(self.reload()[0], 200)
        wait_until(lambda: self.servers_of()["dead"]["health"] == "up", 5,
                   what="the changed check to bring dead up")

    def test_reload_under_load_refuses_no_connection(self):
        self.start(self.config(["b1", "b2"]))
        wrk = subprocess.Popen(["wrk", "-t1", "-c20", "-d6s", "--timeout", "3s",
                                "-H", "Connection: close", f"http://127.0.0.1:{self.port}/"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.procs.on_stop(lambda: wrk.kill())
        reloads = 0
        deadline = time.monotonic() + 4.5
        time.sleep(0.5)
        while time.monotonic() < deadline:
            self.rewrite(self.config(["b2", "b3"] if reloads % 2 == 0 else ["b1", "b2"]))
            code, body = self.reload()
            self.assertEqual(code, 200, body)
            reloads += 1
            time.sleep(0.2)
        out, _ = wrk.communicate(timeout=30)
        self.assertEqual(wrk.returncode, 0, out)
        requests = int(re.search(r"(\d+) requests in", out).group(1))
        self.assertGreater(requests, 500, out)
        self.assertGreaterEqual(reloads, 10)
        self.assertNotIn("Socket errors", out)
        self.assertNotIn("Non-2xx", out)
        print(f"\n{requests} requests, {reloads} reloads, no error")


if __name__ == "__main__":
    unittest.main()
