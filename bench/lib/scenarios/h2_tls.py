"""h2-tls: h2load with 10 connections × 10 concurrent streams, HTTP/2 over
TLS 1.3 (ALPN h2) to the proxy, HTTP/1.1 keep-alive from the proxy to the
pool of three nginx ports (round robin), for a 1 KiB file; req/s, the
proxy's CPU per request, p99 and errors.

The pool, the certificate, the contenders' configurations and the forwarded
headers are those of http1-tls (http_pool.py), with HTTP/2 offered to the
clients as in /work/shared/bench-anchors/h2-tls.{cfg,conf}: haproxy `alpn
h2,http/1.1`, nginx `listen ... ssl http2`, switchboard `alpn: [h2,
http/1.1]`.

h2load offers h2 only (`--npn-list=h2`): by default it also offers
http/1.1 and goes on in HTTP/1.1 with pipelining when the server picks that,
which would measure something else under this scenario's name. A contender
that does not select h2 fails the check before the load (nghttp, from the
same package as h2load, asks through it first), and the failure is reported
for that contender and round; the others are measured as usual.

Latency: h2load's summary gives the min, max, mean and standard deviation
of the request times, no percentiles. p99 comes from its per-request log
(`--log-file`: one line per request with the microseconds from the request
to the end of its response, h2load's own measurement), sorted here; the mean
of the summary is shown beside it. The log costs h2load one write(2) per
request on the load CPU, the same for every contender.
"""
import os
import re
import subprocess
import time

from ..common import BenchError, LOAD_CPU, PORT_FRONT, PORT_WEB, PORT_WEB_TLS
from ..procs import Window, cpu_ns
from ..scenario import Metric
from .http_pool import HttpPool

CLIENTS, STREAMS = 10, 10


def h2load_result(load, rc, timed_out, log_path):
    """What h2load (the process `load`, exited with `rc`) reported: a dict of
    requests (succeeded), errors (failed + 4xx + 5xx), rps, mean_ms, p99_ms
    (from its --log-file `log_path`), tls. Raises BenchError when it did not
    speak h2 or completed nothing."""
    with open(load.out, errors="replace") as f:
        text = f.read()
    req_line = re.search(r"^requests: .*$", text, re.M)
    said = "; ".join(x for x in (req_line.group(0) if req_line else text[-300:],
                                 " ".join(load.tail(3).split())) if x)
    if timed_out or rc != 0:
        raise BenchError(f"h2load failed (exit {rc}{', timed out' if timed_out else ''}): {said}")
    tls = re.search(r"^TLS Protocol: (\S+)", text, re.M)
    proto = re.search(r"^Application protocol: (\S+)", text, re.M)
    if not (tls and proto) or proto.group(1) != "h2":
        # h2load, offering h2 only, exits 0 with no request done and names no
        # TLS session when the server selects no protocol by ALPN, as when the
        # handshake fails: the check before the load (nghttp) tells which.
        raise BenchError("h2load got no HTTP/2 session: the TLS handshake failed or selected "
                         f"{proto.group(1) if proto else 'no protocol'} by ALPN (h2load offers "
                         f"h2 only), so the contender does not serve HTTP/2 here; "
                         f"h2load said: {said}")
    m_req = re.search(r"^requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, "
                      r"(\d+) failed, (\d+) errored, (\d+) timeout", text, re.M)
    m_st = re.search(r"^status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", text, re.M)
    m_fin = re.search(r"^finished in [\d.]+m?s, ([\d.]+) req/s", text, re.M)
    m_time = re.search(r"^time for request:\s+\S+\s+\S+\s+([\d.]+)(us|ms|s)\s", text, re.M)
    if not (m_req and m_st and m_fin and m_time):
        raise BenchError(f"could not parse h2load's output:\n{text}")
    succeeded, failed = int(m_req.group(4)), int(m_req.group(5))
    ok_2xx, c4xx, c5xx = int(m_st.group(1)), int(m_st.group(3)), int(m_st.group(4))
    if ok_2xx == 0:
        raise BenchError(f"h2load: no request answered 2xx ({succeeded} succeeded, {failed} "
                         f"failed, {c4xx} 4xx, {c5xx} 5xx): {said}")
    times = []
    with open(log_path) as f:
        for line in f:
            cols = line.split("\t")
            if len(cols) >= 3:
                times.append(int(cols[2]))
    if not times:
        raise BenchError(f"h2load's request log {log_path} is empty")
    times.sort()
    p99_us = times[min(len(times) - 1, -(-len(times) * 99 // 100) - 1)]  # nearest rank
    scale = {"us": 1e-3, "ms": 1.0, "s": 1e3}[m_time.group(2)]
    cipher = re.search(r"^Cipher: (\S+)", text, re.M)
    return {"requests": succeeded, "errors": failed + c4xx + c5xx,
            "rps": float(m_fin.group(1)), "mean_ms": float(m_time.group(1)) * scale,
            "p99_ms": p99_us / 1e3, "logged": len(times),
            "tls": f"{tls.group(1)} {cipher.group(1) if cipher else '?'} {proto.group(1)}"}


class H2Tls(HttpPool):
    name = "h2-tls"
    tls = True
    h2 = True
    source = "h2-tls"
    in_flight = f"{CLIENTS} connections × {STREAMS} streams over 3 servers: ~33"
    clients = CLIENTS
    backend_port = PORT_WEB_TLS  # --contenders direct: h2load straight to nginx over TLS + h2
    raw_extra = ["tls"]
    metrics = [
        Metric("rps", "req/s", "{:.0f}", "higher"),
        Metric("cpu_us_per_req", "proxy µs CPU/req", "{:.2f}", "lower"),
        Metric("p99_ms", "p99 ms", "{:.2f}", "lower"),
        Metric("mean_ms", "mean ms", "{:.2f}"),
        # Near 100 % the proxy is the bottleneck; lower, CPU 0 (h2load, the
        # backend, the kernel's receive work) sets req/s (BENCH-NOTES).
        Metric("proxy_cpu_pct", "proxy CPU %", "{:.0f}"),
        Metric("load_cpu_pct", "h2load CPU %", "{:.0f}"),
        Metric("requests", "requests", "{:.0f}"),
        Metric("errors", "errors", "{:.0f}"),
        # Connections the backend accepted during the measured load: the
        # proxy's keep-alive pool at work when it stays at a few dozen.
        Metric("backend_conns", "backend conns opened", "{:.0f}"),
    ]

    @classmethod
    def tools(cls, contenders):
        return super().tools(contenders) | {"h2load", "nghttp"}

    def __init__(self, bench):
        super().__init__(bench)
        self.seconds = 3 if bench.quick else 10
        self.warmup = 1 if bench.quick else 3
        self.load_desc = (
            f"h2load -c{CLIENTS} -m{STREAMS} -t1 -D {self.seconds} --npn-list=h2 "
            f"https://127.0.0.1:{PORT_FRONT}/1k.bin after a {self.warmup}s h2load warm-up (not "
            f"measured; the measured run opens its {CLIENTS} connections anew): {CLIENTS} "
            f"connections × {STREAMS} concurrent streams of HTTP/2 over TLS (ALPN h2 only; "
            f"self-signed ECDSA P-256 certificate made by openssl at run time, TLS 1.2 and 1.3 "
            f"offered, h2load negotiates 1.3), a 1024-byte file; cleartext HTTP/1.1 keep-alive "
            f"from the proxy to the pool, round robin over one nginx on "
            f":{PORT_WEB[0]}-{PORT_WEB[-1]}; p99 from h2load's --log-file (per-request time "
            f"to the end of the response), mean from its summary "
            f"(--contenders direct: h2load straight to nginx over TLS + h2 on "
            f":{self.backend_port})")

    # ------------------------------------------------------------ checks

    def nghttp(self, contender, argv):
        """Runs nghttp (h2 only, as h2load) and returns its output; a
        contender that does not select h2 by ALPN fails here, before the load.
        nghttp names the protocol it negotiated only with -v; without, it
        still says when h2 was not selected."""
        full = ["nghttp", "--timeout=5"] + argv
        try:
            r = subprocess.run(full, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                               errors="replace", timeout=20)
        except subprocess.TimeoutExpired as e:
            raise BenchError(f"{contender.name}: the check ({' '.join(full)}) did not finish "
                             f"in 20 s") from e
        # nghttp verifies no certificate here (no CA option) and warns that the
        # self-signed one fails: expected, left out of the messages.
        out = "\n".join(line for line in (r.stdout + r.stderr).splitlines()
                         if "Certificate verification failed" not in line)
        proto = re.search(r"The negotiated protocol: (\S+)", out)
        if "HTTP/2 protocol was not selected" in out or ("-nv" in argv and not proto):
            raise BenchError(f"{contender.name}: no HTTP/2: the TLS handshake selected no "
                             f"protocol by ALPN (the clients offer h2 only), so this contender "
                             f"does not serve HTTP/2 here; nghttp said: "
                             f"{' '.join(out.split())[-300:]}")
        if r.returncode != 0 or "Some requests were not processed" in out:
            raise BenchError(f"{contender.name}: the HTTP/2 check requests failed (nghttp "
                             f"exit {r.returncode}): {' '.join(out.split())[-400:]}")
        return out

    def check(self, contender):
        """Before the load, over HTTP/2: six streams on one connection all
        get the whole file, from all three servers, and /echo shows the Host
        and four forwarded headers every proxy sends."""
        base = f"https://127.0.0.1:{contender.port(self.backend_port)}"
        # Six distinct URLs: nghttp asks for a repeated one only once.
        out = self.nghttp(contender, ["-nv"] + [f"{base}/1k.bin?n={i}" for i in range(1, 7)])
        status, backend, data = {}, {}, {}
        for sid, name, value in re.findall(r"recv \(stream_id=(\d+)\) (:status|x-backend): (\S+)",
                                           out):
            (status if name == ":status" else backend)[sid] = value
        for length, sid in re.findall(r"recv DATA frame <length=(\d+), flags=0x[0-9a-f]+, "
                                      r"stream_id=(\d+)>", out):
            data[sid] = data.get(sid, 0) + int(length)
        bad = {sid: (st, data.get(sid, 0)) for sid, st in status.items()
               if st != "200" or data.get(sid, 0) != 1024}
        if len(status) != 6 or bad:
            raise BenchError(f"{contender.name}: six HTTP/2 GETs of /1k.bin got "
                             f"{len(status)} responses, (status, bytes) not (200, 1024): "
                             f"{bad or status}")
        if not contender.is_proxy:
            return
        echo = self.nghttp(contender, [f"{base}/echo"])
        self.check_seen(contender, list(backend.values()), echo)

    def run(self, contender):
        b = self.bench
        self.check(contender)
        url = f"https://127.0.0.1:{contender.port(self.backend_port)}/1k.bin"
        log_path = os.path.join(b.tmp, f"h2load-{contender.name}.log")
        common = ["taskset", "-c", LOAD_CPU, "h2load", f"-c{CLIENTS}", f"-m{STREAMS}", "-t1"]
        warm = common + ["-D", str(self.warmup), "--npn-list=h2", url]
        argv = common + ["-D", str(self.seconds), "--npn-list=h2", f"--log-file={log_path}", url]
        # Shown with the proxies' URL (direct, when it runs first, has its own).
        front = f"https://127.0.0.1:{PORT_FRONT}/1k.bin"
        b.commands.setdefault(f"load {self.name}",
                              " ".join(warm[:-1] + [front]) + " (warm-up), then " +
                              " ".join(argv[:-1] + [front]))
        load = b.procs.start("h2load-warmup", warm, merge=False)
        rc, _ns, timed_out = b.procs.wait(load, self.warmup + 20)
        if rc != 0 or timed_out:
            raise BenchError(f"the h2load warm-up failed (exit {rc}): {load.tail(3)}")
        time.sleep(0.5)  # the warm-up's connections close
        if os.path.exists(log_path):
            os.unlink(log_path)  # a previous round's
        win = Window()
        pids = contender.pids()
        a0 = self.backend_accepts()
        c0, t0 = cpu_ns(pids), time.monotonic()
        load = b.procs.start("h2load", argv, merge=False)
        rc, load_ns, timed_out = b.procs.wait(load, self.seconds + 20)
        c1, t1 = cpu_ns(pids), time.monotonic()
        a1 = self.backend_accepts()
        fw = win.close(pids + self.backend_pids(), load_ns)
        out = h2load_result(load, rc, timed_out, log_path)
        out["load_cpu_pct"] = 100.0 * load_ns / ((t1 - t0) * 1e9)
        out["backend_conns"] = a1 - a0 - 1
        if contender.is_proxy:
            out["cpu_us_per_req"] = (c1 - c0) / 1e3 / out["requests"]
            out["proxy_cpu_pct"] = 100.0 * (c1 - c0) / ((t1 - t0) * 1e9)
        out.update(fw)
        self.update_note()
        return out
