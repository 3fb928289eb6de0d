"""source: client (transparent source): servers see the client's own
address as their peer. On loopback (a client bound to 127.0.0.9), and in
network namespaces where the client's address is not local to
switchboard's namespace and the server routes its replies back through
switchboard. Without CAP_NET_ADMIN, run fails at start and says why."""

import os
import socket
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import sbtest  # noqa: E402
from sbtest import IntegrationTest, Switchboard, free_port, wait_until  # noqa: E402

# A server that answers every connection with the peer address it sees.
PEER_SERVER = """
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(16)
while True:
    c, peer = s.accept()
    c.sendall(f"{peer[0]}\\n".encode()); c.close()
"""

CLIENT = """
import socket, sys
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
print(c.recv(100).decode().strip())
"""


def config(listen, admin, server):
    return f"""\
workers: 1
admin: {{listen: 127.0.0.1:{admin}}}
pools:
  relay:
    source: client
    health: {{check: none}}
    servers: [{{address: "{server}", name: s1}}]
listeners:
  vip: {{listen: ["{listen}"], pool: relay}}
"""


def run(*args, check=True):
    return subprocess.run(list(args), capture_output=True, text=True, timeout=30, check=check)


class TransparentSourceTest(IntegrationTest):

    def test_on_loopback_the_server_sees_the_client_address(self):
        backend_port = free_port()
        self.procs.start([sys.executable, "-c", PEER_SERVER, "127.0.0.1", str(backend_port)],
                         "peer-server")
        wait_until(lambda: sbtest.can_connect(backend_port), what="the peer server")
        port, admin = free_port(), free_port()
        Switchboard(self.procs, self.workdir,
                    config(f"127.0.0.1:{port}", admin, f"127.0.0.1:{backend_port}"),
                    wait_ports=[port])
        for source in ("127.0.0.9", "127.0.0.10"):
            with socket.create_connection(("127.0.0.1", port), timeout=5,
                                          source_address=(source, 0)) as c:
                self.assertEqual(c.recv(100).decode().strip(), source)

    def test_without_cap_net_admin_run_fails_at_start_and_says_why(self):
        port, admin = free_port(), free_port()
        path = os.path.join(self.workdir, "nocap.yaml")
        with open(path, "w") as f:
            f.write(config(f"127.0.0.1:{port}", admin, "127.0.0.1:9"))
        # Linux grants IP_TRANSPARENT with CAP_NET_ADMIN or CAP_NET_RAW: drop both.
        r = subprocess.run(["setpriv", "--bounding-set", "-net_admin,-net_raw",
                            "--inh-caps", "-net_admin,-net_raw",
                            sbtest.SWITCHBOARD, "run", "-c", path],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn('pool "relay": source: client needs IP_TRANSPARENT (CAP_NET_ADMIN)', r.stderr)

    def test_in_namespaces_the_client_address_is_not_local_to_switchboard(self):
        tag = f"{os.getpid() % 10000}"
        ns_c, ns_b = f"sbc{tag}", f"sbb{tag}"
        table = str(200 + os.getpid() % 50)
        try:
            run("ip", "netns", "add", ns_c)
        except (subprocess.CalledProcessError, FileNotFoundError) as e:
            err = getattr(e, "stderr", "") or str(e)
            print(f"\nskipped: cannot create network namespaces here: {err.strip()}",
                  file=sys.stderr)
            self.skipTest(f"cannot create network namespaces: {err.strip()}")
        cleanup = [lambda: run("ip", "netns", "del", ns_c, check=False)]
        try:
            run("ip", "netns", "add", ns_b)
            cleanup.append(lambda: run("ip", "netns", "del", ns_b, check=False))
            # client ns --- 10.231.1.0/24 --- switchboard (this ns) --- 10.231.2.0/24 --- server ns
            for ns, here, there, net in ((ns_c, f"vc{tag}", f"vcp{tag}", "10.231.1"),
                                         (ns_b, f"vb{tag}", f"vbp{tag}", "10.231.2")):
                run("ip", "link", "add", here, "type", "veth", "peer", "name", there)
                cleanup.append(lambda h=here: run("ip", "link", "del", h, check=False))
                run("ip", "link", "set", there, "netns", ns)
                run("ip", "addr", "add", f"{net}.1/24", "dev", here)
                run("ip", "link", "set", here, "up")
                run("ip", "-n", ns, "addr", "add", f"{net}.2/24", "dev", there)
                run("ip", "-n", ns, "link", "set", there, "up")
                run("ip", "-n", ns, "link", "set", "lo", "up")
                # Replies go back through switchboard's namespace.
                run("ip", "-n", ns, "route", "add", "default", "via", f"{net}.1")
            # The server's replies to the client's address arrive on vb: deliver
            # them to local sockets (the transparent ones), do not forward them.
            run("ip", "rule", "add", "iif", f"vb{tag}", "lookup", table, "priority", table)
            cleanup.append(lambda: run("ip", "rule", "del", "iif", f"vb{tag}", "lookup", table,
                                       check=False))
            run("ip", "route", "add", "local", "0.0.0.0/0", "dev", "lo", "table", table)
            cleanup.append(lambda: run("ip", "route", "flush", "table", table, check=False))

            server = self.procs.start(["ip", "netns", "exec", ns_b, sys.executable, "-c",
                                       PEER_SERVER, "10.231.2.2", "2525"], "ns-server")
            time.sleep(0.5)
            self.assertIsNone(server.poll(), sbtest.read_log(server))
            admin = free_port()
            Switchboard(self.procs, self.workdir,
                        config("10.231.1.1:2525", admin, "10.231.2.2:2525"))
            wait_until(lambda: sbtest.can_connect(2525, host="10.231.1.1"),
                       what="switchboard on 10.231.1.1")
            r = run("ip", "netns", "exec", ns_c, sys.executable, "-c", CLIENT, "10.231.1.1",
                    "2525")
            # The client's address, which no interface here has.
            self.assertEqual(r.stdout.strip(), "10.231.1.2")
            local = run("ip", "-o", "addr", "show").stdout
            self.assertNotIn("10.231.1.2/", local)
        finally:
            self.procs.stop_all()
            for step in reversed(cleanup):
                step()


if __name__ == "__main__":
    unittest.main()
