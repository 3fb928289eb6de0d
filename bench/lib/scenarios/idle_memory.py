"""idle-memory: N idle TCP connections held open through the proxy; the
proxy's RSS growth per connection, counted only for connections the hold
server (bench/lib/idle_conns.py) has accepted."""
import re
import sys
import time

from ..common import BenchError, IDLE_HELPER, LOAD_CPU, PORT_FRONT, PORT_HOLD
from ..net import established, listening
from ..procs import Window, count_fds, rss_kb, wait_until
from ..scenario import Metric, Scenario


def idle_client_argv(n):
    """bench/lib/idle_conns.py opening N idle connections to the proxy."""
    return ["taskset", "-c", LOAD_CPU, sys.executable, IDLE_HELPER, "client", "127.0.0.1",
            str(PORT_FRONT), str(n), "--timeout", "40"]


def connect_idle(bench, argv):
    """Starts the idle client (idle_client_argv) and waits until every connect
    has finished; returns (the process, connected, failed, its report line).
    The caller stops the process; here only on failure."""
    client = bench.procs.start("idle-client", argv, merge=False)
    try:
        def client_done():
            with open(client.out) as f:
                return "connected" in f.read()
        wait_until(client_done, 50, "the idle client to finish connecting", client)
    except BaseException:
        bench.procs.stop(client)
        raise
    with open(client.out) as f:
        line = f.read().strip()
    m = re.match(r"connected (\d+) failed (\d+)", line)
    return client, int(m.group(1)), int(m.group(2)), line


class IdleMemory(Scenario):
    name = "idle-memory"
    backend_port = PORT_HOLD
    metrics = [
        Metric("bytes_per_conn", "proxy B/conn", "{:.0f}", "lower"),
        Metric("rss_before_kb", "RSS before kB", "{:.0f}"),
        Metric("rss_after_kb", "RSS after kB", "{:.0f}"),
        Metric("conns", "conns through", "{:.0f}"),
        Metric("connect_s", "connect s", "{:.2f}"),
    ]
    # The proxy's ESTABLISHED front and back sockets: a cross check, raw only.
    raw_extra = ["est_front", "est_back"]

    def __init__(self, bench):
        super().__init__(bench)
        self.n = 1000 if bench.quick else 5000
        self.load_desc = (f"{self.n} idle TCP connections (nothing sent) opened through the "
                          f"proxy to a server on :{PORT_HOLD} that accepts and holds them; "
                          f"proxy VmRSS before and after, all {self.n} counted at the backend")
        self.base_fds = 0

    def supports(self, contender):
        return contender.is_proxy and super().supports(contender)

    def start_backends(self):
        b = self.bench
        argv = ["taskset", "-c", LOAD_CPU, sys.executable, IDLE_HELPER, "server", "127.0.0.1",
                str(PORT_HOLD)]
        b.commands.setdefault("backend idle-memory", " ".join(argv))
        p = b.procs.start("hold-server", argv)
        self.backends = [p]
        wait_until(lambda: listening(PORT_HOLD), 10, "the hold server to listen", p)
        time.sleep(0.2)
        self.base_fds = count_fds(p.pid)

    def held(self):
        return count_fds(self.backends[0].pid) - self.base_fds

    def settle(self):
        wait_until(lambda: self.held() <= 0, 30, "the hold server to see every connection close",
                   self.backends[0])
        wait_until(lambda: established(remote_port=PORT_FRONT) == 0, 30,
                   "the client connections to the proxy to close")

    def run(self, contender):
        b = self.bench
        hold = self.backends[0]
        if self.held() != 0:
            raise BenchError(f"the hold server still holds {self.held()} connections before the round")
        argv = idle_client_argv(self.n)
        b.commands.setdefault("load idle-memory", " ".join(argv))
        pids = contender.pids()
        before = rss_kb(pids)
        win = Window()
        t0 = time.monotonic()
        client, connected, failed, line = connect_idle(b, argv)
        try:
            # Established through the proxy = accepted by the backend.
            deadline = time.monotonic() + 20
            while self.held() < connected and time.monotonic() < deadline:
                if not hold.alive():
                    raise BenchError("the hold server exited:\n" + hold.tail())
                time.sleep(0.05)
            connect_s = time.monotonic() - t0
            time.sleep(1.0)  # settle
            held = self.held()
            front = established(local_port=PORT_FRONT)
            back = established(remote_port=PORT_HOLD)  # the proxy's upstream sockets
            after = rss_kb(pids)
            fw = win.close(pids + self.backend_pids() + [client.pid])
            proxy_alive = all(contender.proc.alive_pid(p) for p in pids)
        finally:
            b.procs.stop(client)
        if not proxy_alive:
            raise BenchError(f"{contender.name} died during the test:\n{contender.proc.tail()}")
        if failed or connected != self.n or held != self.n:
            raise BenchError(f"only {held} of {self.n} connections reached the backend through "
                             f"{contender.name} (client: {line}; established at the proxy's "
                             f"front {front}, back {back})")
        out = {"rss_before_kb": before, "rss_after_kb": after, "conns": held,
               "bytes_per_conn": (after - before) * 1024 / held, "connect_s": connect_s,
               "est_front": front, "est_back": back}
        out.update(fw)
        return out
