"""Faults that must not become outages, against the real binary: running out
of descriptors (no server is marked down for it), a relay that gets no pipe,
a worker whose loop throws or stalls, an accept loop that throws. The last
four use the test-only fault hooks (proxy/worker/fault_hooks.h) that
scripts/test builds in; a build without them skips those tests."""

import hashlib
import json
import os
import socket
import subprocess
import sys
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from sbtest import (SWITCHBOARD, IntegrationTest, Nginx, Switchboard, closed_within,  # noqa: E402
                    free_port, healthz, http_get, metric_value, serve_file, wait_for_log,
                    wait_until)


def fault_hooks_built_in():
    r = subprocess.run([SWITCHBOARD, "version"], capture_output=True, text=True, timeout=10)
    return "test fault hooks built in" in r.stdout


def soft_nofile(pid):
    with open(f"/proc/{pid}/limits") as f:
        for line in f:
            if line.startswith("Max open files"):
                return int(line.split()[3])
    return None


class FaultsTest(IntegrationTest):

    def start(self, backend_port, extra_top="", pool_extra="", env=None, prefix=(),
              listener_extra=""):
        self.port = free_port()
        self.admin = free_port()
        self.sb = Switchboard(self.procs, self.workdir, f"""\
workers: 1
shutdown-grace: 2s
admin: {{listen: 127.0.0.1:{self.admin}}}
{extra_top}
pools:
  web:
    connect-timeout: 500ms
{pool_extra}
    servers: [{{address: "127.0.0.1:{backend_port}", name: b1}}]
listeners:
  vip:
    listen: ["127.0.0.1:{self.port}"]
    protocol: tcp
    pool: web
{listener_extra}
""", wait_ports=[self.port], env=env, prefix=prefix)

    def series(self, result):
        return f'switchboard_health_checks_total{{pool="web",result="{result}",server="b1"}}'

    def test_descriptor_flood_marks_no_server_down(self):
        # UBSan cannot read objects while no descriptor is left: see
        # sbtest.Processes.VPTR_UNREADABLE; every other report still fails.
        self.procs.out_of_descriptors_on_purpose = True
        port = free_port()
        Nginx(self.procs, self.workdir, [{"name": "b1", "port": port}])
        # Soft and hard limit 96: the start-up cannot raise it. 150 clients
        # that connect and send no PROXY header hold one descriptor each
        # (none is released and taken again, as a refused relay would), so
        # every descriptor is taken while the http check runs every 100 ms
        # with fall 1, on a new connection each time: one failed check
        # would mark the server down.
        self.start(port, prefix=("prlimit", "--nofile=96:96"),
                   pool_extra="    health: {check: http, path: /, interval: 100ms, "
                              "timeout: 500ms, rise: 1, fall: 1, reuse-connection: false}",
                   listener_extra="    accept-proxy: true\n    proxy-header-timeout: 60s",
                   env={"UBSAN_OPTIONS": os.environ.get("UBSAN_OPTIONS", "") +
                        ":halt_on_error=0"})
        wait_until(lambda: (metric_value(self.admin, self.series("pass")) or 0) >= 1,
                   what="a first passing check")
        held = []
        try:
            for _ in range(150):
                s = socket.socket()
                s.settimeout(5)
                s.connect(("127.0.0.1", self.port))  # the kernel's backlog takes the rest
                held.append(s)
            wait_until(lambda: "Too many open files" in self.sb.log(), timeout=10,
                       what="descriptors to run out")
            time.sleep(1.0)  # ten check intervals while nothing is left
        finally:
            for s in held:
                s.close()
        wait_until(lambda: (metric_value(self.admin, self.series("error")) or 0) >= 1,
                   timeout=10, what="checks counted as local errors")
        self.assertEqual(metric_value(self.admin, self.series("fail")), 0)
        self.assertEqual(metric_value(
            self.admin, 'switchboard_server_state_changes_total{pool="web",server="b1",to="down"}'),
            0)
        with urllib.request.urlopen(f"http://127.0.0.1:{self.admin}/status", timeout=5) as r:
            server = json.load(r)["pools"][0]["servers"][0]
        self.assertEqual(server["health"], "up")
        wait_for_log(self.sb, "could not run here")
        # Descriptors back: checks go on as before.
        passes = metric_value(self.admin, self.series("pass"))
        wait_until(lambda: metric_value(self.admin, self.series("pass")) > passes,
                   what="passing checks again")
        wait_for_log(self.sb, "runs again")

    def test_soft_descriptor_limit_is_raised_and_a_short_one_warned_about(self):
        port = free_port()
        Nginx(self.procs, self.workdir, [{"name": "b1", "port": port}])
        # max-connections 10000 needs about 20 000 descriptors: 4096 is short.
        self.start(port, prefix=("prlimit", "--nofile=64:4096"),
                   pool_extra="    health: {check: none}")
        self.assertEqual(soft_nofile(self.sb.proc.pid), 4096)
        self.assertRegex(wait_for_log(self.sb, "open-file limit 4096 is"),
                         r"open-file limit 4096 is \d+ short")


class InjectedFaultsTest(IntegrationTest):
    """Through the test-only fault hooks."""

    def setUp(self):
        super().setUp()
        if not fault_hooks_built_in():
            self.skipTest("this build has no test fault hooks (-DSWITCHBOARD_FAULT_HOOKS=ON)")

    start = FaultsTest.start

    def nginx(self):
        port = free_port()
        Nginx(self.procs, self.workdir, [{"name": "b1", "port": port}])
        return port

    def test_relay_without_a_pipe_copies_instead_of_dropping(self):
        blob = os.urandom(8 * 1024 * 1024 + 17)
        port = serve_file(self.procs, self.workdir, "blob", blob)
        self.start(port, extra_top="tuning: {relay: splice}",
                   pool_extra="    health: {check: none}",
                   env={"SWITCHBOARD_TEST_FAULT": "no-pipe"})
        r = subprocess.run(["curl", "-s", "--max-time", "60", f"http://127.0.0.1:{self.port}/blob"],
                           capture_output=True, timeout=90)
        self.assertEqual(r.returncode, 0)
        self.assertEqual(hashlib.sha256(r.stdout).hexdigest(), hashlib.sha256(blob).hexdigest())

    def test_a_worker_that_throws_is_restarted_then_ends_the_process(self):
        self.start(self.nginx(), pool_extra="    health: {check: none}",
                   env={"SWITCHBOARD_TEST_FAULT": "worker-throw"})
        # Each connection makes the worker's loop throw once: it restarts
        # and serves the connection, up to ten faults within a minute (the
        # start-up's own probe of the port was the first).
        restarted = "event loop ended by an exception: test fault: worker-throw; restarted"
        wait_for_log(self.sb, restarted)
        for _ in range(5):
            self.assertEqual(http_get(self.port), (0, "b1"))
        self.assertEqual(healthz(self.admin), (200, "ok\n"))
        self.assertEqual(wait_for_log(self.sb, restarted, count=6).count(restarted), 6)
        # Faults that keep coming end the process with exit 3, for systemd.
        for _ in range(5):
            http_get(self.port, timeout=2)
            if self.sb.proc.poll() is not None:
                break
        self.assertEqual(self.sb.proc.wait(timeout=10), 3)
        self.assertIn("stopping (exit 3)", self.sb.log())  # written before the exit

    def test_an_accept_loop_that_throws_is_started_again(self):
        self.start(self.nginx(), pool_extra="    health: {check: none}",
                   env={"SWITCHBOARD_TEST_FAULT": "accept-loop-throw"})
        # Each accept throws and drops that connection (the start-up's own
        # probe of the port was the first). A loop that was not started
        # again would leave the next ones waiting in the backlog.
        thrown = "accept loop of listener vip ended by an exception"
        wait_for_log(self.sb, thrown)
        for _ in range(3):
            with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
                self.assertTrue(closed_within(s, 5), "nobody accepted the connection")
        self.assertEqual(healthz(self.admin), (200, "ok\n"))
        self.assertEqual(self.sb.proc.poll(), None)
        self.assertEqual(wait_for_log(self.sb, thrown, count=4).count(thrown), 4)

    def test_healthz_fails_while_a_worker_is_stuck(self):
        self.start(self.nginx(), pool_extra="    health: {check: none}",
                   env={"SWITCHBOARD_TEST_FAULT": "worker-stall"})
        self.assertEqual(healthz(self.admin), (200, "ok\n"))
        # The second accepted connection (the start-up's probe of the port
        # was the first) blocks the worker's loop for 15 s.
        stuck = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        self.addCleanup(stuck.close)
        wait_until(lambda: healthz(self.admin)[0] == 503, timeout=17, interval=0.5,
                   what="/healthz to report the stuck worker")
        self.assertIn("worker 0 has not run its event loop", healthz(self.admin)[1])
        wait_until(lambda: healthz(self.admin)[0] == 200, timeout=10, interval=0.5,
                   what="/healthz once the worker runs again")


if __name__ == "__main__":
    unittest.main()
