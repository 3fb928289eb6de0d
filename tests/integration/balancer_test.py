"""Balancing algorithms end to end: real nginx backends answering their name,
curl from many source addresses (127.0.0.N)."""

import collections
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from sbtest import IntegrationTest, Nginx, Switchboard, can_connect, free_port, http_get, \
    one_pool_config, wait_until  # noqa: E402


class BalancerTest(IntegrationTest):

    def start(self, balance, servers_yaml, pool_extra=""):
        self.port = free_port()
        pool_lines = (f"    balance: {balance}\n    connect-timeout: 500ms\n"
                      f"    health: {{check: none}}\n{pool_extra}")
        self.sb = Switchboard(self.procs, self.workdir,
                              one_pool_config(self.port, free_port(), servers_yaml, pool_lines,
                                              top_lines="log: {access: false}", pool="web"),
                              wait_ports=[self.port])

    def backends(self, names):
        servers = [{"name": n, "port": free_port()} for n in names]
        Nginx(self.procs, self.workdir, servers)
        return servers

    def test_weighted_round_robin_shares(self):
        b = self.backends(["b1", "b2", "b3"])
        self.start("weighted-round-robin", "\n".join(
            f"      - {{address: 127.0.0.1:{s['port']}, name: {s['name']}, weight: {w}}}"
            for s, w in zip(b, (1, 2, 3))))
        counts = collections.Counter(http_get(self.port)[1] for _ in range(60))
        self.assertEqual(counts, {"b1": 10, "b2": 20, "b3": 30})

    def test_source_ip_sticks_per_client_and_spreads_clients(self):
        b = self.backends(["b1", "b2", "b3"])
        self.start("source-ip", "\n".join(
            f"      - {{address: 127.0.0.1:{s['port']}, name: {s['name']}}}" for s in b))
        seen = {}
        for n in range(2, 26):
            source = f"127.0.0.{n}"
            answers = {http_get(self.port, interface=source)[1] for _ in range(4)}
            self.assertEqual(len(answers), 1, f"{source} moved between {answers}")
            seen[source] = answers.pop()
        self.assertGreater(len(set(seen.values())), 1, "every client on one server")

    def test_source_network_keeps_a_slash_24_together(self):
        b = self.backends(["b1", "b2", "b3"])
        self.start("source-network", "\n".join(
            f"      - {{address: 127.0.0.1:{s['port']}, name: {s['name']}}}" for s in b),
            pool_extra="    source-network-prefix: {ipv4: 24, ipv6: 48}")
        answers = {http_get(self.port, interface=f"127.0.0.{n}")[1] for n in range(2, 20)}
        self.assertEqual(len(answers), 1, answers)

    def test_first_available_fails_over_and_returns(self):
        first = {"name": "b1", "port": free_port()}
        second = {"name": "b2", "port": free_port()}
        n1 = Nginx(self.procs, self.workdir, [first], tag="nginx-b1")
        Nginx(self.procs, self.workdir, [second], tag="nginx-b2")
        # Without health checks or outlier ejection the return is immediate:
        # b1 is tried first again on the next connection.
        self.start("first-available",
                   f"      - {{address: 127.0.0.1:{first['port']}, name: b1}}\n"
                   f"      - {{address: 127.0.0.1:{second['port']}, name: b2}}",
                   pool_extra="    outlier: {consecutive-failures: 0}")
        self.assertEqual({http_get(self.port)[1] for _ in range(5)}, {"b1"})
        n1.proc.terminate()
        n1.proc.wait(timeout=10)
        wait_until(lambda: not can_connect(first["port"]), what="b1 closed")
        self.assertEqual({http_get(self.port) for _ in range(5)}, {(0, "b2")})
        Nginx(self.procs, self.workdir, [first], tag="nginx-b1")
        self.assertEqual({http_get(self.port)[1] for _ in range(5)}, {"b1"})

    def test_maglev_keeps_clients_on_their_server(self):
        b = self.backends(["b1", "b2", "b3", "b4"])
        self.start("maglev", "\n".join(
            f"      - {{address: 127.0.0.1:{s['port']}, name: {s['name']}}}" for s in b))
        for n in range(2, 12):
            answers = {http_get(self.port, interface=f"127.0.0.{n}")[1] for _ in range(3)}
            self.assertEqual(len(answers), 1)

    def test_least_connections_and_two_choices_serve(self):
        b = self.backends(["b1", "b2"])
        for balance in ("least-connections", "random-two-choices"):
            with self.subTest(balance=balance):
                self.start(balance, "\n".join(
                    f"      - {{address: 127.0.0.1:{s['port']}, name: {s['name']}}}" for s in b))
                counts = collections.Counter(http_get(self.port)[1] for _ in range(40))
                self.assertEqual(set(counts), {"b1", "b2"})
                self.sb.stop()


if __name__ == "__main__":
    unittest.main()
