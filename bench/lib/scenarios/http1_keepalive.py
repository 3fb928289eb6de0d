"""http1-keepalive and http1-tls: wrk with 50 keep-alive connections through
an HTTP/1.1 reverse proxy to a pool of three nginx ports (round robin, server
connections kept open), for a 1 KiB file; req/s, the proxy's CPU per request
and p99. http1-tls is the same with TLS terminated at the proxy (wrk speaks
https to it, the proxy cleartext to the pool).

The backend, the contenders' configurations (the reference anchors plus the
same forwarded headers as switchboard's) and the headers check are shared
with h2-tls: http_pool.py says why each setting is there.
"""
import http.client
import os
import ssl
import time

from ..common import BenchError, LOAD_CPU, PORT_FRONT, PORT_WEB, PORT_WEB_TLS
from ..procs import Window, cpu_ns
from ..scenario import Metric
from .http_pool import HttpPool
from .tcp_connrate import wrk_result


class Http1Keepalive(HttpPool):
    name = "http1-keepalive"
    tls = False
    backend_port = PORT_WEB[0]  # --contenders direct: straight to one pool member
    metrics = [
        Metric("rps", "req/s", "{:.0f}", "higher"),
        Metric("cpu_us_per_req", "proxy µs CPU/req", "{:.2f}", "lower"),
        Metric("p99_ms", "p99 ms", "{:.2f}", "lower"),
        # Near 100 % the proxy is the bottleneck; lower, CPU 0 (wrk, the
        # backend, the kernel's receive work) sets req/s (BENCH-NOTES).
        Metric("proxy_cpu_pct", "proxy CPU %", "{:.0f}"),
        Metric("load_cpu_pct", "wrk CPU %", "{:.0f}"),
        Metric("requests", "requests", "{:.0f}"),
        Metric("errors", "errors", "{:.0f}"),
        # Connections the backend accepted during the measured load: the
        # proxy's keep-alive pool at work when it stays near the clients' 50.
        Metric("backend_conns", "backend conns opened", "{:.0f}"),
    ]

    @classmethod
    def tools(cls, contenders):
        return super().tools(contenders) | {"wrk"}

    def __init__(self, bench):
        super().__init__(bench)
        self.seconds = 3 if bench.quick else 10
        self.warmup = 1 if bench.quick else 3
        where = ("TLS terminated at the proxy (self-signed ECDSA P-256 certificate made by "
                 "openssl at run time; TLS 1.2 and 1.3 offered, wrk's OpenSSL negotiates "
                 "1.3), cleartext HTTP/1.1 to the pool; " if self.tls else "")
        self.load_desc = (
            f"wrk -t1 -c50 -d{self.seconds}s --latency --timeout 2s "
            f"{self.scheme}://127.0.0.1:{PORT_FRONT}/1k.bin after a {self.warmup}s wrk warm-up "
            f"(not measured; the measured run opens its 50 client connections anew): 50 "
            f"keep-alive connections, a 1024-byte file; {where}round robin over one nginx "
            f"on :{PORT_WEB[0]}-{PORT_WEB[-1]}, server connections kept open "
            f"(--contenders direct: wrk straight to :{self.backend_port})")

    # ------------------------------------------------------------ checks

    def connection(self, port):
        if not self.tls:
            return http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        ctx = ssl.create_default_context(cafile=os.path.join(self.tls_dir, "cert.pem"))
        return http.client.HTTPSConnection("127.0.0.1", port, timeout=5, context=ctx)

    def check(self, contender):
        """Before the load: the proxy answers, balances over the three servers,
        and sends the four forwarded headers and Host like the others.
        Returns the negotiated TLS version and cipher (or "")."""
        port = contender.port(self.backend_port)
        c = self.connection(port)
        backends, tls_info = [], ""
        try:
            for _ in range(6):  # one keep-alive connection
                c.request("GET", "/1k.bin")
                r = c.getresponse()
                body = r.read()
                if r.status != 200 or len(body) != 1024:
                    raise BenchError(f"{contender.name}: GET /1k.bin answered {r.status} with "
                                     f"{len(body)} bytes, not 200 with 1024")
                backends.append(r.getheader("X-Backend"))
            if self.tls:
                tls_info = f"{c.sock.version()} {c.sock.cipher()[0]}"
            c.request("GET", "/echo")
            r = c.getresponse()
            echo = r.read().decode(errors="replace")
        except (OSError, http.client.HTTPException, ssl.SSLError) as e:
            raise BenchError(f"{contender.name}: the check requests failed: {e}") from e
        finally:
            c.close()
        if not contender.is_proxy:
            return tls_info
        self.check_seen(contender, backends, echo)
        return tls_info

    def run(self, contender):
        b = self.bench
        tls_info = self.check(contender)
        url = f"{self.scheme}://127.0.0.1:{contender.port(self.backend_port)}/1k.bin"
        warm = ["taskset", "-c", LOAD_CPU, "wrk", "-t1", "-c50", f"-d{self.warmup}s",
                "--timeout", "2s", url]
        argv = ["taskset", "-c", LOAD_CPU, "wrk", "-t1", "-c50", f"-d{self.seconds}s",
                "--latency", "--timeout", "2s", url]
        # Shown with the proxies' URL (direct, when it runs first, has its own).
        front = f"{self.scheme}://127.0.0.1:{PORT_FRONT}/1k.bin"
        b.commands.setdefault(f"load {self.name}",
                              " ".join(warm[:-1] + [front]) + " (warm-up), then " +
                              " ".join(argv[:-1] + [front]))
        load = b.procs.start("wrk-warmup", warm, merge=False)
        rc, _ns, timed_out = b.procs.wait(load, self.warmup + 20)
        if rc != 0 or timed_out:
            raise BenchError(f"the wrk warm-up failed (exit {rc}): {load.tail(3)}")
        time.sleep(0.5)  # the warm-up's connections close
        win = Window()
        pids = contender.pids()
        a0 = self.backend_accepts()
        c0, t0 = cpu_ns(pids), time.monotonic()
        load = b.procs.start("wrk", argv, merge=False)
        rc, load_ns, timed_out = b.procs.wait(load, self.seconds + 20)
        c1, t1 = cpu_ns(pids), time.monotonic()
        a1 = self.backend_accepts()
        fw = win.close(pids + self.backend_pids(), load_ns)
        requests, rps, p99_ms, socket_errors, non2xx = wrk_result(load, rc, timed_out)
        out = {"rps": rps, "p99_ms": p99_ms, "requests": requests,
               "errors": sum(socket_errors) + non2xx,
               "load_cpu_pct": 100.0 * load_ns / ((t1 - t0) * 1e9),
               "backend_conns": a1 - a0 - 1, "tls": tls_info}
        if contender.is_proxy:
            out["cpu_us_per_req"] = (c1 - c0) / 1e3 / requests
            out["proxy_cpu_pct"] = 100.0 * (c1 - c0) / ((t1 - t0) * 1e9)
        out.update(fw)
        self.update_note()
        return out


class Http1Tls(Http1Keepalive):
    name = "http1-tls"
    tls = True
    backend_port = PORT_WEB_TLS  # --contenders direct: wrk over TLS straight to the backend
    raw_extra = ["tls"]
