"""Byte-exact relaying in both relay modes (splice and copy): bulk data from
a real nginx, and an echo peer fed many small segments and large blocks at
once, so that short reads, full pipes and back-pressure all happen."""

import hashlib
import os
import socket
import subprocess
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from sbtest import EchoServer, IntegrationTest, Switchboard, free_port, serve_file  # noqa: E402

MODES = ("auto", "splice", "copy")


class RelayIntegrityTest(IntegrationTest):

    def start(self, backend_port, mode):
        self.port = free_port()
        self.sb = Switchboard(self.procs, self.workdir, f"""\
workers: 1
tuning: {{relay: {mode}}}
admin: {{listen: 127.0.0.1:{free_port()}}}
log: {{level: warn}}
pools:
  p:
    health: {{check: none}}
    servers: [{{address: "127.0.0.1:{backend_port}"}}]
listeners:
  l:
    listen: ["127.0.0.1:{self.port}"]
    pool: p
""", wait_ports=[self.port])

    def test_bulk_download_is_byte_exact(self):
        blob = os.urandom(24 * 1024 * 1024 + 123)
        port = serve_file(self.procs, self.workdir, "blob", blob)
        want = hashlib.sha256(blob).hexdigest()
        for mode in MODES:
            with self.subTest(mode=mode):
                self.start(port, mode)
                r = subprocess.run(["curl", "-s", "--max-time", "60",
                                    f"http://127.0.0.1:{self.port}/blob"],
                                   capture_output=True, timeout=90)
                self.assertEqual(r.returncode, 0)
                self.assertEqual(len(r.stdout), len(blob))
                self.assertEqual(hashlib.sha256(r.stdout).hexdigest(), want)
                self.sb.stop()

    def test_echo_of_small_segments_and_large_blocks(self):
        echo = EchoServer()
        self.addCleanup(echo.close)
        chunks = [os.urandom(7) for _ in range(3000)] + [os.urandom(4 * 1024 * 1024)] + \
                 [os.urandom(13) for _ in range(3000)]
        sent = b"".join(chunks)
        for mode in MODES:
            with self.subTest(mode=mode):
                self.start(echo.port, mode)
                received = bytearray()
                with socket.create_connection(("127.0.0.1", self.port), timeout=30) as s:
                    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

                    def reader():
                        while True:
                            data = s.recv(65536)
                            if not data:
                                return
                            received.extend(data)

                    t = threading.Thread(target=reader)
                    t.start()
                    for c in chunks:  # one segment each: many tiny skbs
                        s.sendall(c)
                    s.shutdown(socket.SHUT_WR)
                    t.join(timeout=60)
                    self.assertFalse(t.is_alive(), "relay stalled")
                self.assertEqual(len(received), len(sent))
                self.assertEqual(bytes(received), sent)
                self.sb.stop()


if __name__ == "__main__":
    unittest.main()
