"""Two switchboard nodes behind keepalived (docs/high-availability.md), in
network namespaces on one bridged segment:

    client ns (10.233.0.2) --+
    backend ns (10.233.0.3) -+-- bridge (own ns) --+-- node a: switchboard + keepalived (.11)
                                                   +-- node b: switchboard + keepalived (.12)
    VIP 10.233.0.100, held by the VRRP master

Both nodes run the same switchboard configuration (the VIP listener with
`freebind: true`) and keepalived with configs/keepalived/keepalived.conf as
shipped, but for the per-node lines. Clients reach the VIP; when the
master's switchboard dies its /healthz fails, keepalived moves the VIP and
new connections succeed on the other node within seconds; and both nodes
name the same server for every client of a hashing pool."""

import json
import os
import re
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import sbtest  # noqa: E402
from sbtest import IntegrationTest, Switchboard, wait_until  # noqa: E402

NET = "10.233.0"
VIP = f"{NET}.100"
VIP_PORT = 8080
ADMIN = 9901  # each node's own loopback: the port of the shipped keepalived file
SERVER_PORTS = (8001, 8002, 8003, 8004)
# From the master's death to a client served by the backup: two failed
# checks (2 s), then the VRRP takeover (about 3 advertisements), with room
# for a slow (sanitizer) build.
FAILOVER_BOUND = 15.0

KEEPALIVED_CONF = os.path.join(sbtest.SOURCE_DIR, "configs", "keepalived", "keepalived.conf")

# Servers that answer every connection with their name and close.
BACKENDS = """
import selectors, socket, sys
sel = selectors.DefaultSelector()
for port in sys.argv[2:]:
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((sys.argv[1], int(port))); s.listen(64); sel.register(s, selectors.EVENT_READ, port)
while True:
    for key, _ in sel.select():
        c, _ = key.fileobj.accept()
        try:
            c.sendall(f"s{key.data}\\n".encode())
        except OSError:  # a health check that closed at once
            pass
        c.close()
"""

# One connection to the VIP: prints the server's name or the error.
CLIENT = """
import socket, sys
try:
    with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2) as c:
        c.settimeout(2)
        print(c.recv(100).decode().strip() or "closed")
except OSError as e:
    print(f"error {e}")
"""

# Asks the node's admin API which server each client address would get.
PICKS = """
import json, sys, urllib.parse, urllib.request
out = {}
for pool in sys.argv[2].split(","):
    for client in sys.argv[3:]:
        url = (f"http://127.0.0.1:{sys.argv[1]}/pools/{pool}/pick?"
               + urllib.parse.urlencode({"client": client}))
        with urllib.request.urlopen(url, timeout=5) as r:
            out[f"{pool} {client}"] = json.load(r)["server"]
print(json.dumps(out))
"""

HEALTHZ = """
import sys, urllib.request
try:
    with urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/healthz", timeout=2) as r:
        print(r.status)
except Exception as e:
    print(f"error {e}")
"""

METRIC = """
import re, sys, urllib.request
with urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/metrics", timeout=5) as r:
    text = r.read().decode()
m = re.search(r'^switchboard_listener_connections_total\\{listener="vip"\\} (\\S+)$', text, re.M)
print(m.group(1) if m else "none")
"""


def run(*args, check=True, timeout=30):
    return subprocess.run(list(args), capture_output=True, text=True, timeout=timeout,
                          check=check)


def switchboard_config():
    servers = "\n".join(f"      - {{address: {NET}.3:{p}, name: s{p}}}" for p in SERVER_PORTS)
    pool = f"""\
    health: {{check: tcp, interval: 500ms, timeout: 1s, rise: 1, fall: 2}}
    servers:
{servers}"""
    return f"""\
workers: 2
admin: {{listen: 127.0.0.1:{ADMIN}}}
pools:
  web:
    balance: maglev
{pool}
  by-source:
    balance: source-ip
{pool}
listeners:
  vip:
    listen: ["{VIP}:{VIP_PORT}"]
    freebind: true
    pool: web
"""


def keepalived_config(name, interface, priority, state, shipped):
    """The shipped file with this node's lines: router_id, state, interface,
    priority and the VIP; everything else (the script, its timing and
    weight) as shipped."""
    text = shipped
    for key, value in (("router_id", name), ("state", state), ("interface", interface),
                       ("priority", priority), ("192.0.2.10/24", f"{VIP}/24")):
        # The key at the start of a line (not in a comment) and its value.
        pattern = (r"^(\s*)192\.0\.2\.10/24$" if key.startswith("192") else
                   rf"^(\s*){key} \S+$")
        text, n = re.subn(pattern, rf"\g<1>{key} {value}" if not key.startswith("192")
                          else rf"\g<1>{value}", text, flags=re.M)
        assert n == 1, f"{pattern}: {n} matches in {KEEPALIVED_CONF}"
    return text


class KeepalivedTest(IntegrationTest):

    def ns_run(self, ns, *args, timeout=30):
        return run("ip", "netns", "exec", ns, *args, timeout=timeout)

    def ns_python(self, ns, script, *args, timeout=30):
        return self.ns_run(ns, sys.executable, "-c", script, *map(str, args),
                           timeout=timeout).stdout.strip()

    def holds_vip(self, ns):
        return f"inet {VIP}/" in run("ip", "-n", ns, "-4", "addr", "show").stdout

    def connect(self):
        return self.ns_python(self.ns["client"], CLIENT, VIP, VIP_PORT)

    def connections_on(self, node):
        return float(self.ns_python(self.ns[node], METRIC, ADMIN))

    def test_vip_moves_when_the_master_fails_and_both_nodes_pick_alike(self):
        tag = f"{os.getpid() % 100000}"
        self.ns = {role: f"sbk{role[0]}{tag}" for role in ("lan", "a", "b", "client", "server")}
        try:
            run("ip", "netns", "add", self.ns["lan"])
        except (subprocess.CalledProcessError, FileNotFoundError) as e:
            err = (getattr(e, "stderr", "") or str(e)).strip()
            print(f"\nskipped: cannot create network namespaces here: {err}", file=sys.stderr)
            self.skipTest(f"cannot create network namespaces: {err}")
        cleanup = [lambda: run("ip", "netns", "del", self.ns["lan"], check=False)]
        try:
            self.build_segment(tag, cleanup)
            self.check_failover_and_picks()
        finally:
            # Processes first: a namespace lives on while a process is in it.
            self.procs.stop_all()
            for step in reversed(cleanup):
                step()

    def build_segment(self, tag, cleanup):
        lan = self.ns["lan"]
        run("ip", "-n", lan, "link", "add", "br0", "type", "bridge")
        run("ip", "-n", lan, "link", "set", "br0", "up")
        self.interface = {}
        for role, host in (("a", 11), ("b", 12), ("client", 2), ("server", 3)):
            ns = self.ns[role]
            run("ip", "netns", "add", ns)
            cleanup.append(lambda n=ns: run("ip", "netns", "del", n, check=False))
            inside, outside = f"k{role[0]}{tag}", f"k{role[0]}{tag}p"
            # Made inside the bridge's namespace: nothing in this one to clean.
            run("ip", "-n", lan, "link", "add", outside, "type", "veth", "peer", "name", inside)
            run("ip", "-n", lan, "link", "set", inside, "netns", ns)
            run("ip", "-n", lan, "link", "set", outside, "master", "br0", "up")
            run("ip", "-n", ns, "addr", "add", f"{NET}.{host}/24", "dev", inside)
            run("ip", "-n", ns, "link", "set", inside, "up")
            run("ip", "-n", ns, "link", "set", "lo", "up")
            self.interface[role] = inside

    def start_node(self, node, priority, state, shipped):
        ns = self.ns[node]
        self.sb[node] = Switchboard(self.procs, self.workdir, switchboard_config(),
                                    name=f"switchboard-{node}",
                                    prefix=("ip", "netns", "exec", ns))
        wait_until(lambda: self.ns_python(ns, HEALTHZ, ADMIN) == "200"
                   or self.sb[node].proc.poll() is not None,
                   timeout=30, what=f"switchboard on node {node}")
        self.assertIsNone(self.sb[node].proc.poll(), sbtest.read_log(self.sb[node].proc))
        conf = os.path.join(self.workdir, f"keepalived-{node}.conf")
        with open(conf, "w") as f:
            f.write(keepalived_config(f"switchboard-{node}", self.interface[node], priority,
                                      state, shipped))
        # Its own pid files: no clash with a keepalived of the host.
        pids = {k: os.path.join(self.workdir, f"keepalived-{node}-{k}.pid")
                for k in ("main", "vrrp", "checkers")}
        self.procs.start(["ip", "netns", "exec", ns, "keepalived", "--dont-fork",
                          "--log-console", "--log-detail", "--no-syslog", "--vrrp",
                          "-f", conf, "-p", pids["main"], "-r", pids["vrrp"],
                          "-c", pids["checkers"]], f"keepalived-{node}")

    def check_failover_and_picks(self):
        with open(KEEPALIVED_CONF) as f:
            shipped = f.read()
        backends = self.procs.start(["ip", "netns", "exec", self.ns["server"], sys.executable,
                                     "-c", BACKENDS, f"{NET}.3", *map(str, SERVER_PORTS)],
                                    "backends")
        self.sb = {}
        self.start_node("a", 150, "MASTER", shipped)
        self.start_node("b", 100, "BACKUP", shipped)
        self.assertIsNone(backends.poll(), sbtest.read_log(backends))

        wait_until(lambda: self.holds_vip(self.ns["a"]), timeout=20, interval=0.2,
                   what="node a holding the VIP")
        self.assertFalse(self.holds_vip(self.ns["b"]))

        # Clients reach the VIP, through node a.
        before = self.connections_on("a")
        wait_until(lambda: self.connect().startswith("s"), timeout=10, interval=0.2,
                   what="a client served through the VIP")
        answers = [self.connect() for _ in range(10)]
        self.assertTrue(all(a in {f"s{p}" for p in SERVER_PORTS} for a in answers), answers)
        self.assertGreaterEqual(self.connections_on("a") - before, 10)
        self.assertEqual(self.connections_on("b"), 0)

        # Both nodes name the same server for each client of a hashing pool.
        clients = [f"198.51.{i // 100}.{i % 100 + 1}" for i in range(150)] + [
            f"2001:db8:{i}::7" for i in range(50)]
        picks = {node: json.loads(self.ns_python(self.ns[node], PICKS, ADMIN, "web,by-source",
                                                 *clients, timeout=120))
                 for node in ("a", "b")}
        self.assertEqual(len(picks["a"]), 400)
        differ = {k: (v, picks["b"][k]) for k, v in picks["a"].items() if picks["b"][k] != v}
        self.assertEqual(differ, {}, "the nodes pick differently")
        for pool in ("web", "by-source"):
            chosen = {v for k, v in picks["a"].items() if k.startswith(pool + " ")}
            self.assertGreater(len(chosen), 1, f"{pool}: every client on one server")

        # The master's switchboard dies: its /healthz fails, keepalived on
        # node a lowers its priority, node b takes the VIP, and new
        # connections succeed there.
        self.sb["a"].proc.send_signal(signal.SIGKILL)
        self.sb["a"].proc.wait(timeout=10)
        died = time.monotonic()
        wait_until(lambda: self.connect().startswith("s"), timeout=FAILOVER_BOUND,
                   interval=0.2, what="a client served after the master's switchboard died")
        took = time.monotonic() - died
        print(f"\nfailover: served again {took:.1f}s after the master's switchboard died",
              file=sys.stderr)
        self.assertTrue(self.holds_vip(self.ns["b"]))
        self.assertFalse(self.holds_vip(self.ns["a"]))
        before = self.connections_on("b")
        answers = [self.connect() for _ in range(10)]
        self.assertTrue(all(a in {f"s{p}" for p in SERVER_PORTS} for a in answers), answers)
        self.assertGreaterEqual(self.connections_on("b") - before, 10)


if __name__ == "__main__":
    unittest.main()
