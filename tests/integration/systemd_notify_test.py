"""systemd's notify protocol (README.md, "Running under systemd"): with
NOTIFY_SOCKET set, switchboard says READY=1 once its listeners accept,
RELOADING=1 then READY=1 around a reload (a refused file named in STATUS=),
and STOPPING=1 when it stops. The test plays systemd: a unix datagram socket
whose path it passes in NOTIFY_SOCKET, read in the order the messages come."""

import os
import signal
import socket
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from sbtest import (IntegrationTest, Switchboard, can_connect, free_port,  # noqa: E402
                    one_pool_config)


class SystemdNotifyTest(IntegrationTest):

    def setUp(self):
        super().setUp()
        self.path = os.path.join(self.workdir, "notify")
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(self.path)
        self.addCleanup(self.notify.close)
        self.port, self.admin = free_port(), free_port()
        self.config = one_pool_config(self.port, self.admin,
                                      "      - {address: 127.0.0.1:9, name: s1}",
                                      pool_lines="    health: {check: none}")

    def message(self, timeout=10):
        """The next notification as a dict of its KEY=value lines."""
        self.notify.settimeout(timeout)
        data = self.notify.recv(4096).decode()
        return dict(line.split("=", 1) for line in data.splitlines() if line)

    def no_message(self, seconds=0.5):
        self.notify.settimeout(seconds)
        with self.assertRaises(socket.timeout):
            self.notify.recv(4096)

    def test_ready_reloading_refused_and_stopping_in_order(self):
        sb = Switchboard(self.procs, self.workdir, self.config,
                         env={"NOTIFY_SOCKET": self.path})
        ready = self.message()
        self.assertEqual(ready.get("READY"), "1", ready)
        # Ready means the listener accepts now, not later.
        self.assertTrue(can_connect(self.port))
        self.assertIn(f"running {sb.path}: 1 listeners, 1 pools, 1 servers", ready["STATUS"])
        self.no_message()

        sb.proc.send_signal(signal.SIGHUP)
        reloading = self.message()
        self.assertEqual(reloading.get("RELOADING"), "1", reloading)
        self.assertGreater(int(reloading["MONOTONIC_USEC"]), 0)
        again = self.message()
        self.assertEqual(again.get("READY"), "1", again)
        self.assertIn("running", again["STATUS"])

        with open(sb.path, "a") as f:
            f.write("    bogus-key: 1\n")
        sb.proc.send_signal(signal.SIGHUP)
        self.assertEqual(self.message().get("RELOADING"), "1")
        refused = self.message()
        self.assertEqual(refused.get("READY"), "1", refused)
        self.assertIn("reload (SIGHUP) refused", refused["STATUS"])
        self.assertIn(f"{sb.path}:", refused["STATUS"])
        self.assertIn("bogus-key", refused["STATUS"])
        self.assertTrue(can_connect(self.port))  # the old configuration serves on

        sb.proc.send_signal(signal.SIGTERM)
        stopping = self.message()
        self.assertEqual(stopping.get("STOPPING"), "1", stopping)
        self.assertEqual(sb.proc.wait(timeout=15), 0)

    def test_without_notify_socket_nothing_is_sent(self):
        sb = Switchboard(self.procs, self.workdir, self.config, wait_ports=[self.port])
        sb.proc.send_signal(signal.SIGHUP)
        sb.proc.send_signal(signal.SIGTERM)
        self.assertEqual(sb.proc.wait(timeout=15), 0)
        self.no_message()


if __name__ == "__main__":
    unittest.main()
