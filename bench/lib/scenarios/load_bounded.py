"""load-bounded: idle connections held open through the proxy while wrk keeps
1000 more busy with keep-alive requests to nginx; the proxy's RSS per
connection, every request answered, and no descriptor left once all closed."""
import time

from ..common import BenchError, LOAD_CPU, PORT_FRONT, PORT_HTTP
from ..net import established
from ..procs import Window, count_fds, cpu_ns, rss_kb, wait_until
from ..scenario import Metric
from .idle_memory import connect_idle, idle_client_argv
from .tcp_connrate import TcpConnrate, wrk_result


def fds(pids):
    return sum(count_fds(p) for p in pids)


def wait_quietly(pred, timeout):
    """wait_until without the error: a proxy that never lets go shows in the
    figures (descriptors after), not as a failed round."""
    deadline = time.monotonic() + timeout
    while not pred() and time.monotonic() < deadline:
        time.sleep(0.1)


class LoadBounded(TcpConnrate):
    name = "load-bounded"
    # The idle connections wait for a request for as long as the proxies
    # keep them (10m), and the active ones are never closed by nginx.
    backend_worker_connections = 12000
    backend_http_extra = ("    client_header_timeout 10m; keepalive_timeout 10m; "
                          "keepalive_requests 100000000;\n")
    metrics = [
        Metric("bytes_per_conn", "proxy B/conn", "{:.0f}", "lower"),
        Metric("idle_bytes_per_conn", "B/conn idle only", "{:.0f}"),
        Metric("cpu_us_per_req", "proxy µs CPU/req", "{:.2f}", "lower"),
        Metric("p99_ms", "p99 ms", "{:.1f}", "lower"),
        Metric("requests", "requests", "{:.0f}"),
        Metric("errors", "socket errors", "{:.0f}"),
        Metric("non2xx", "non-2xx/3xx", "{:.0f}"),
        Metric("rss_before_kb", "RSS before kB", "{:.0f}"),
        Metric("rss_peak_kb", "RSS loaded kB", "{:.0f}"),
        Metric("rss_after_kb", "RSS after close kB", "{:.0f}"),
        Metric("fds_before", "fds before", "{:.0f}"),
        Metric("fds_after", "fds after close", "{:.0f}"),
    ]
    # wrk's socket errors by kind, and the proxy's descriptors under load (2
    # per proxied connection): raw only.
    raw_extra = ["connect/read/write/timeout", "fds_peak"]

    def __init__(self, bench):
        super().__init__(bench)
        # 2 descriptors per proxied connection under the 20000-file limit,
        # which cannot be raised here (bench/README.md): 9900 fit.
        self.idle, self.active = (1000, 100) if bench.quick else (8900, 1000)
        self.seconds = 5 if bench.quick else 60
        self.load_desc = (f"{self.idle} idle TCP connections (nothing sent) through the proxy to "
                          f"nginx on :{PORT_HTTP}, held open while `wrk -t1 -c{self.active} "
                          f"-d{self.seconds}s --latency --timeout 5s` sends keep-alive requests "
                          f"for a 16-byte file through the same listener; then all close. RSS "
                          f"per connection = (RSS loaded − before) ÷ {self.idle + self.active}; "
                          f"RSS loaded is the largest VmRSS seen during wrk")
        self.note = ("every request answered = 0 socket errors and 0 non-2xx/3xx; nothing "
                     "leaked = fds after close ≤ fds before; RSS after close is read once the "
                     "proxy holds no established socket, and the allocator may keep some")

    @classmethod
    def tools(cls, contenders):
        return {"wrk", "nginx"}

    def supports(self, contender):
        return contender.is_proxy and super().supports(contender)

    def settle(self):
        wait_until(lambda: established(remote_port=PORT_HTTP) == 0, 30,
                   "the connections to the backend to close")

    def run(self, contender):
        b = self.bench
        pids = contender.pids()
        rss0, fds0 = rss_kb(pids), fds(pids)
        idle_argv = idle_client_argv(self.idle)
        wrk_argv = ["taskset", "-c", LOAD_CPU, "wrk", "-t1", f"-c{self.active}",
                    f"-d{self.seconds}s", "--latency", "--timeout", "5s",
                    f"http://127.0.0.1:{PORT_FRONT}/16b"]
        b.commands.setdefault(f"load {self.name}",
                              f"{' '.join(idle_argv)}; then {' '.join(wrk_argv)}")
        client, connected, _failed, line = connect_idle(b, idle_argv)
        try:
            # Through the proxy = the proxy's upstream socket is established.
            wait_quietly(lambda: established(remote_port=PORT_HTTP) >= self.idle, 20)
            through = established(remote_port=PORT_HTTP)
            if connected != self.idle or through < self.idle:
                raise BenchError(f"only {through} of {self.idle} idle connections reached the "
                                 f"backend through {contender.name} (client: {line})")
            time.sleep(1.0)  # settle
            rss_idle = rss_kb(pids)
            win = Window()
            c0 = cpu_ns(pids)
            load = b.procs.start("wrk", wrk_argv, merge=False)
            rss_peak, fds_peak = rss_idle, 0
            deadline = time.monotonic() + self.seconds + 20
            # alive_pid, not alive(): poll() would reap wrk before wait() reads its rusage.
            while load.alive_pid(load.pid) and time.monotonic() < deadline:
                rss_peak, fds_peak = max(rss_peak, rss_kb(pids)), max(fds_peak, fds(pids))
                time.sleep(0.5)
            rc, load_ns, timed_out = b.procs.wait(load, max(1.0, deadline - time.monotonic()))
            c1 = cpu_ns(pids)
            fw = win.close(pids + self.backend_pids() + [client.pid], load_ns)
            if not client.alive():
                raise BenchError("the idle client exited during the load:\n" + client.tail())
        finally:
            b.procs.stop(client)
        requests, _rps, p99_ms, socket_errors, non2xx = wrk_result(load, rc, timed_out)
        # All closed: the proxy holds no established socket on either side,
        # then give it a moment to release descriptors it closes late.
        wait_quietly(lambda: established(local_port=PORT_FRONT) == 0
                     and established(remote_port=PORT_HTTP) == 0, 30)
        wait_quietly(lambda: fds(pids) <= fds0, 10)
        time.sleep(1.0)
        if not all(contender.proc.alive_pid(p) for p in pids):
            raise BenchError(f"{contender.name} died during the test:\n{contender.proc.tail()}")
        out = {"bytes_per_conn": (rss_peak - rss0) * 1024 / (self.idle + self.active),
               "idle_bytes_per_conn": (rss_idle - rss0) * 1024 / self.idle,
               "cpu_us_per_req": (c1 - c0) / 1e3 / max(requests, 1), "p99_ms": p99_ms,
               "requests": requests, "errors": sum(socket_errors), "non2xx": non2xx,
               "rss_before_kb": rss0, "rss_peak_kb": rss_peak, "rss_after_kb": rss_kb(pids),
               "fds_before": fds0, "fds_after": fds(pids), "fds_peak": fds_peak,
               "connect/read/write/timeout": "/".join(map(str, socket_errors))}
        out.update(fw)
        return out
