"""tcp-connrate: wrk with Connection: close, a new TCP connection through the
proxy for every request to nginx serving a 16-byte file; req/s, p99 and the
proxy's CPU per connection. Its nginx also answers the health checks of the
-checks1000 contenders (and of health-checks, which reuses this backend)."""
import os
import re
import time

from ..common import BenchError, LOAD_CPU, PORT_HTTP
from ..contenders import CHECK_PAIRS, CHECKS_CONTENDERS, HAPROXY_CHECKS
from ..net import listening
from ..procs import Window, cpu_ns, wait_until
from ..scenario import Metric, Scenario

# Seconds a checking contender runs before the load starts (see run()).
CHECKS_WARMUP_S = 2

NGINX_HTTP_BACKEND_CONF = """\
# written by bench/run: the tcp-connrate backend
daemon off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections {worker_connections}; }}
http {{
    access_log off;
{http_extra}    client_body_temp_path {dir}/body; proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fcgi; uwsgi_temp_path {dir}/uwsgi; scgi_temp_path {dir}/scgi;
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        root {dir}/www;
        location / {{ }}
        # Health checks of the -checks1000 contenders: logged, so that the
        # run counts the checks that really happened under load.
        location = /hc {{ access_log {dir}/hc.log; try_files /16b =404; }}
    }}
}}
"""


def wrk_result(load, rc, timed_out):
    """What wrk --latency (the process `load`, exited with `rc`) reported:
    (requests, req/s, p99 ms, socket errors by kind (connect, read, write,
    timeout), non-2xx/3xx responses). Raises BenchError when it failed."""
    with open(load.out, errors="replace") as f:
        text = f.read()
    if timed_out or rc != 0:
        raise BenchError(f"wrk failed (exit {rc}{', timed out' if timed_out else ''}): "
                         f"{text[-300:]} {load.tail(3)}")
    m_req = re.search(r"(\d+) requests in", text)
    m_rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    m_p99 = re.search(r"^\s*99%\s+([\d.]+)(us|ms|s|m)\s*$", text, re.M)
    if not (m_req and m_rps and m_p99):
        raise BenchError(f"could not parse wrk's output:\n{text}")
    scale = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}[m_p99.group(2)]
    # wrk prints these two lines only when the count is not zero.
    m_err = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    m_non = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if int(m_req.group(1)) == 0:
        raise BenchError(f"wrk completed no requests:\n{text}")
    return (int(m_req.group(1)), float(m_rps.group(1)), float(m_p99.group(1)) * scale,
            [int(x) for x in m_err.groups()] if m_err else [0, 0, 0, 0],
            int(m_non.group(1)) if m_non else 0)


class TcpConnrate(Scenario):
    name = "tcp-connrate"
    backend_port = PORT_HTTP
    # The nginx backend's worker_connections and extra http{} directives.
    backend_worker_connections = 4096
    backend_http_extra = ""
    metrics = [
        Metric("rps", "req/s", "{:.0f}", "higher"),
        Metric("cpu_us_per_conn", "proxy µs CPU/conn", "{:.1f}", "lower"),
        Metric("p99_ms", "p99 ms", "{:.2f}", "lower"),
        Metric("requests", "requests", "{:.0f}"),
        Metric("errors", "errors", "{:.0f}"),
        Metric("checks_per_s", "checks/s done", "{:.0f}"),
    ]

    @classmethod
    def tools(cls, contenders):
        return {"wrk", "nginx"}

    def __init__(self, bench):
        super().__init__(bench)
        self.seconds = 3 if bench.quick else 10
        self.load_desc = (f"wrk -t1 -c50 -d{self.seconds}s --latency -H 'Connection: close' "
                          f"(a new TCP connection per request) for a 16-byte file from nginx "
                          f"on :{PORT_HTTP}")

    def start_backends(self):
        b = self.bench
        d = os.path.join(b.tmp, "backend-http")
        os.makedirs(os.path.join(d, "www"), exist_ok=True)
        for x in (d, os.path.join(d, "www")):
            os.chmod(x, 0o755)
        with open(os.path.join(d, "www", "16b"), "wb") as f:
            f.write(b"0123456789abcde\n")  # 16 bytes
        os.chmod(os.path.join(d, "www", "16b"), 0o644)
        conf = os.path.join(d, "nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX_HTTP_BACKEND_CONF.format(
                dir=d, port=PORT_HTTP, worker_connections=self.backend_worker_connections,
                http_extra=self.backend_http_extra))
        argv = ["taskset", "-c", LOAD_CPU, "nginx", "-p", d, "-c", conf,
                "-e", os.path.join(d, "error.log")]
        b.commands.setdefault(f"backend {self.name}", " ".join(argv))
        p = b.procs.start("nginx-backend", argv)
        self.backends = [p]
        wait_until(lambda: listening(PORT_HTTP), 10, "the nginx backend to listen", p)
        wait_until(lambda: len(p.tree()) >= 2, 10, "the nginx backend worker", p)

    def checks_logged(self):
        """Lines in the backend's health-check log (nginx buffers none)."""
        try:
            with open(os.path.join(self.bench.tmp, "backend-http", "hc.log"), "rb") as f:
                return sum(1 for _ in f)
        except FileNotFoundError:
            return 0

    def run(self, contender):
        b = self.bench
        if contender.name in CHECK_PAIRS:
            # Past the start: every server's first check runs at once there
            # (SPEC §3), then they spread over the interval. The question is
            # checks beside traffic in the steady state; both proxies wait.
            time.sleep(CHECKS_WARMUP_S)
        url = f"http://127.0.0.1:{contender.port(PORT_HTTP)}/16b"
        argv = ["taskset", "-c", LOAD_CPU, "wrk", "-t1", "-c50", f"-d{self.seconds}s",
                "--latency", "--timeout", "2s", "-H", "Connection: close", url]
        b.commands.setdefault("load tcp-connrate",
                              " ".join(a if " " not in a else f"'{a}'" for a in argv))
        win = Window()
        pids = contender.pids()
        c0, h0, t0 = cpu_ns(pids), self.checks_logged(), time.monotonic()
        load = b.procs.start("wrk", argv, merge=False)
        rc, load_ns, timed_out = b.procs.wait(load, self.seconds + 20)
        c1, h1, t1 = cpu_ns(pids), self.checks_logged(), time.monotonic()
        fw = win.close(pids + self.backend_pids(), load_ns)
        requests, rps, p99_ms, socket_errors, non2xx = wrk_result(load, rc, timed_out)
        errors = sum(socket_errors) + non2xx
        out = {"rps": rps, "p99_ms": p99_ms, "requests": requests, "errors": errors}
        if contender.is_proxy:
            out["cpu_us_per_conn"] = (c1 - c0) / 1e3 / requests
        if contender.name in (*CHECKS_CONTENDERS, HAPROXY_CHECKS):
            # Checks slip under load (HAProxy's do too): what really ran.
            out["checks_per_s"] = (h1 - h0) / (t1 - t0)
        out.update(fw)
        return out
