"""Servers discovered through DNS (HOST:PORT, srv:, mx:) from a real BIND
named on loopback: they appear, follow a zone reload with a short TTL, keep
their state when they stay, and survive the DNS server being stopped."""

import json
import os
import socket
import sys
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
import sbtest  # noqa: E402
from sbtest import (IntegrationTest, NamedServer, SmtpSink, Switchboard,  # noqa: E402
                    free_port, wait_until)

ZONE = """\
$TTL 1
@        IN SOA ns.test. hostmaster.test. ({serial} 60 60 600 1)
         IN NS  ns.test.
ns       IN A   127.0.0.1
app      IN A   {app1}
app      IN A   {app2}
app      IN AAAA ::1
_smtp._tcp IN SRV 10 60 {port} um1.test.
_smtp._tcp IN SRV 20 10 {port} um2.test.
um1      IN A   127.0.0.4
um2      IN A   127.0.0.5
@        IN MX  10 mx1.test.
@        IN MX  20 mx2.test.
mx1      IN A   127.0.0.6
mx2      IN A   127.0.0.7
"""


class DiscoveryTest(IntegrationTest):

    def status(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.admin}/status", timeout=5) as r:
            return {p["name"]: {s["name"]: s for s in p["servers"]} for p in json.load(r)["pools"]}

    def test_servers_from_a_aaaa_srv_and_mx_follow_the_zone(self):
        sink = SmtpSink(self.procs, port=None)
        port = sink.port
        # The A records point at 127.0.0.2/3: smtp-sink listens on 127.0.0.1
        # only, so give the pool servers it can reach through a second sink
        # per address.
        sinks = {ip: self.sink_on(ip, port) for ip in ("127.0.0.2", "127.0.0.3", "127.0.0.8")}
        named = NamedServer(self.procs, self.workdir, {
            "test.": ZONE.format(serial=1, app1="127.0.0.2", app2="127.0.0.3", port=port)})
        self.admin = free_port()
        vip = free_port()
        self.sb = Switchboard(self.procs, self.workdir, f"""\
workers: 1
admin: {{listen: 127.0.0.1:{self.admin}}}
resolver: {{servers: ["127.0.0.1:{named.port}"], timeout: 500ms, attempts: 1,
            min-ttl: 500ms, max-ttl: 1s}}
pools:
  app:
    servers:
      - {{address: "app.test:{port}", name: app}}
    health: {{check: tcp, interval: 200ms, timeout: 300ms, rise: 1, fall: 1}}
  um:
    servers: [{{srv: _smtp._tcp.test}}]
    health: {{check: none}}
  mx:
    servers: [{{mx: test, port: 2525, priority: 1}}]
    health: {{check: none}}
listeners:
  vip: {{listen: ["127.0.0.1:{vip}"], pool: app}}
""", wait_ports=[vip])
        # Discovery's first round finishes before the listener serves (and
        # before the admin listener opens).
        wait_until(lambda: sbtest.can_connect(self.admin), what="the admin listener")
        s = self.status()
        self.assertEqual(set(s["app"]), {"app@127.0.0.2", "app@127.0.0.3", "app@::1"})
        self.assertEqual(s["app"]["app@::1"]["address"], f"[::1]:{port}")
        um = s["um"]
        self.assertEqual(set(um), {f"um1.test:{port}@127.0.0.4", f"um2.test:{port}@127.0.0.5"})
        self.assertEqual((um[f"um1.test:{port}@127.0.0.4"]["priority"],
                          um[f"um1.test:{port}@127.0.0.4"]["weight"]), (10, 60))
        self.assertEqual((um[f"um2.test:{port}@127.0.0.5"]["priority"],
                          um[f"um2.test:{port}@127.0.0.5"]["weight"]), (20, 10))
        mx = s["mx"]
        self.assertEqual(set(mx), {"mx1.test@127.0.0.6", "mx2.test@127.0.0.7"})
        self.assertEqual(mx["mx1.test@127.0.0.6"]["address"], "127.0.0.6:2525")
        # MX preference -> tier, plus the entry's own priority.
        self.assertEqual(mx["mx1.test@127.0.0.6"]["priority"], 11)
        self.assertEqual(mx["mx2.test@127.0.0.7"]["priority"], 21)

        # Traffic reaches the discovered servers (::1 has no listener: it is
        # checked down and gets none).
        wait_until(lambda: self.status()["app"]["app@::1"]["health"] == "down", timeout=5,
                   what="::1 checked down")
        for _ in range(10):
            self.assertTrue(self.banner(vip))
        kept_before = self.status()["app"]["app@127.0.0.2"]["connections_total"]
        self.assertGreater(kept_before, 0)

        # Discovered servers take admin actions by name, and keep them.
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.admin}/pools/app/servers/app@127.0.0.2/drain", method="POST")
        with urllib.request.urlopen(req, timeout=5) as r:
            self.assertEqual(json.load(r)["state"], "drain")

        # Reload the zone: 127.0.0.3 leaves, 127.0.0.8 joins.
        named.update("test.", ZONE.format(serial=2, app1="127.0.0.2", app2="127.0.0.8",
                                          port=port))
        wait_until(lambda: set(self.status()["app"]) ==
                   {"app@127.0.0.2", "app@127.0.0.8", "app@::1"}, timeout=5,
                   what="the reloaded zone's servers")
        s = self.status()["app"]
        # The server that stayed kept its counters (and its health).
        self.assertGreaterEqual(s["app@127.0.0.2"]["connections_total"], kept_before)
        self.assertEqual(s["app@127.0.0.2"]["health"], "up")
        self.assertEqual(s["app@127.0.0.2"]["admin_state"], "drain")
        wait_until(lambda: self.status()["app"]["app@127.0.0.8"]["last_check"] is not None,
                   timeout=5, what="the new server's first check")
        # Metrics follow: the server that left is gone from /metrics.
        with urllib.request.urlopen(f"http://127.0.0.1:{self.admin}/metrics", timeout=5) as r:
            metrics = r.read().decode()
        self.assertIn('switchboard_server_up{pool="app",server="app@127.0.0.8"}', metrics)
        self.assertNotIn('server="app@127.0.0.3"', metrics)
        log = self.sb.log()
        self.assertIn("pool app: server app@127.0.0.8 (127.0.0.8:", log)
        self.assertIn("pool app: server app@127.0.0.3 (127.0.0.3:", log)

        # The DNS server goes away: the last good set stays, and is logged.
        named.stop()
        time.sleep(2.5)  # > max-ttl + timeout: lookups have failed meanwhile
        self.assertEqual(set(self.status()["app"]),
                         {"app@127.0.0.2", "app@127.0.0.8", "app@::1"})
        self.assertEqual(len(self.status()["um"]), 2)
        for _ in range(10):  # to 127.0.0.8 only: .2 is drained, ::1 down
            self.assertTrue(self.banner(vip))
        self.assertRegex(self.sb.log(), r"pool app: app.test A/AAAA lookup failed: .*; "
                                        r"keeping the last 3 servers of address app")
        del sinks

    def sink_on(self, ip, port):
        sink = SmtpSink.__new__(SmtpSink)
        sink.port = port
        sink.proc = self.procs.start(["smtp-sink", "-u", "nobody", f"{ip}:{port}", "100"],
                                     f"smtp-sink-{ip}")
        wait_until(lambda: self.can_connect(ip, port), what=f"smtp-sink on {ip}:{port}")
        return sink

    @staticmethod
    def can_connect(ip, port):
        try:
            with socket.create_connection((ip, port), timeout=0.5):
                return True
        except OSError:
            return False

    @staticmethod
    def banner(port):
        with socket.create_connection(("127.0.0.1", port), timeout=3) as c:
            return c.recv(100).startswith(b"220")


if __name__ == "__main__":
    unittest.main()
