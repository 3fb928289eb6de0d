"""health-checks: the cost of health checks alone, no traffic: proxy CPU and
context switches per check, switchboard against haproxy checking the same
1000 servers."""
import os
import re
import time

from ..common import PORT_HTTP
from ..contenders import CHECKED_SERVERS, CHECKS_CONTENDERS, HAPROXY_CHECKS
from ..procs import Window, cpu_ns, read
from ..scenario import Metric
from .tcp_connrate import TcpConnrate


class HealthChecks(TcpConnrate):
    """The cost of health checks alone: 1000 servers checked over HTTP every
    second at the tcp-connrate nginx, no traffic; proxy CPU and context
    switches over the window, per check."""
    name = "health-checks"
    metrics = [
        Metric("cpu_us_per_check", "proxy µs CPU/check", "{:.1f}", "lower"),
        Metric("switches_per_check", "context switches/check", "{:.2f}", "lower"),
        Metric("cpu_ms_per_s", "proxy CPU ms/s", "{:.1f}"),
    ]

    # Not TcpConnrate's: the runner has never required wrk (unused here) nor
    # nginx (this scenario's backend) for health-checks before it starts; a
    # missing nginx shows when the backend fails to start.
    @classmethod
    def tools(cls, contenders):
        return set()

    def __init__(self, bench):
        super().__init__(bench)
        self.seconds = 5 if bench.quick else 10
        self.load_desc = (f"no traffic; {CHECKED_SERVERS} servers, each checked with an HTTP GET "
                          f"of a 16-byte file every 1s at nginx on :{PORT_HTTP}; measured for "
                          f"{self.seconds}s after a 3s warm-up")

    def supports(self, contender):
        return contender.name in (*CHECKS_CONTENDERS, HAPROXY_CHECKS)

    @staticmethod
    def switches(pids):
        n = 0
        for pid in pids:
            for tid in os.listdir(f"/proc/{pid}/task"):
                text = read(f"/proc/{pid}/task/{tid}/status") or ""
                n += sum(int(x) for x in re.findall(r"ctxt_switches:\s+(\d+)", text))
        return n

    def run(self, contender):
        time.sleep(3)  # every server's first check has run; the rest spread out
        pids = contender.pids()
        win = Window()
        c0, s0, t0 = cpu_ns(pids), self.switches(pids), time.monotonic()
        h0 = self.checks_logged()
        time.sleep(self.seconds)
        c1, s1, t1 = cpu_ns(pids), self.switches(pids), time.monotonic()
        checks = max(1, self.checks_logged() - h0)  # as counted by the backend
        out = {"cpu_us_per_check": (c1 - c0) / 1e3 / checks,
               "switches_per_check": (s1 - s0) / checks,
               "cpu_ms_per_s": (c1 - c0) / 1e6 / (t1 - t0)}
        out.update(win.close(pids + self.backend_pids()))
        return out
