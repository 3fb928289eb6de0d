"""dns-rr: dnsperf against a DNS responder that answers one name with three
A records by itself; queries/s and the proxy's CPU per query."""
import os
import re

from ..common import BenchError, LOAD_CPU, PORT_FRONT, switchboard_head
from ..net import dns_query_a
from ..procs import Window, cpu_ns
from ..scenario import Metric, Scenario

# dns-rr: the name both DNS contenders answer, with these three A records.
DNS_NAME = "bench.example.test"
DNS_ADDRS = ("192.0.2.1", "192.0.2.2", "192.0.2.3")


class DnsRr(Scenario):
    """dnsperf -> a DNS responder answering one name with three A records:
    switchboard's dns listener (a pool of three servers, health: none)
    against dnsdist answering the same records with a SpoofAction. No
    backend: both answer by themselves. Queries per second and proxy CPU per
    query."""
    name = "dns-rr"
    backend_port = 0  # no backend; only names the contenders' config dirs
    front_udp = True
    note = ("at this packet rate the tick-sampled busy time of /proc/stat runs ahead of the "
            "exact schedstat runtimes: \"foreign\" read 8–24 % with nothing else "
            "running (foreign-scan ≤ 1 %, on the 2-vCPU VM), so ⚠ here cannot tell "
            "interference from that floor: judge it by foreign-scan and top foreign")
    # dnsperf's default of 100 queries in flight on one socket: the highest
    # rate without lost queries in trials here (-q 200 lost a few, -q 500
    # about 300 in 3 s; 2-16 clients were not consistently faster).
    OUTSTANDING = 100
    metrics = [
        Metric("qps", "queries/s", "{:.0f}", "higher"),
        Metric("cpu_us_per_query", "proxy µs CPU/query", "{:.2f}", "lower"),
        # The load generator's CPU: near 100% it, not the responder, sets
        # queries/s (BENCH-NOTES: CPU 0 saturates first on loopback).
        Metric("load_cpu_pct", "dnsperf CPU %", "{:.0f}"),
        # What one proxy core would answer at that CPU cost: the responder's
        # own capacity, when the load cannot saturate it.
        Metric("qps_per_core", "queries/s per proxy core", "{:.0f}", "higher"),
        Metric("queries", "queries answered", "{:.0f}"),
        Metric("lost", "lost", "{:.0f}"),
        Metric("errors", "not NOERROR", "{:.0f}"),
        Metric("resp_bytes", "response B", "{:.0f}"),
    ]

    @classmethod
    def tools(cls, contenders):
        return {"dnsperf"} | ({"dnsdist"} if "dnsdist" in contenders else set())

    def __init__(self, bench):
        super().__init__(bench)
        self.seconds = 3 if bench.quick else 10
        self.qfile = os.path.join(bench.tmp, "dns-queries.txt")
        self.load_desc = (f"dnsperf -s 127.0.0.1 -p {PORT_FRONT} -d FILE -l {self.seconds} -c 1 "
                          f"-T 1 -q {self.OUTSTANDING} (UDP, one socket, {self.OUTSTANDING} "
                          f"queries in flight, no rate limit), FILE = `{DNS_NAME} A` lines; "
                          f"every answer has the three A records {', '.join(DNS_ADDRS)} "
                          f"(checked before each round); no backend")

    def supports(self, contender):
        return contender.name in ("switchboard", "dnsdist")

    def contender_config(self, name):
        if name == "switchboard":
            servers = "".join(f"      - {{address: {a}:25, name: a{i}}}\n"
                              for i, a in enumerate(DNS_ADDRS, 1))
            return switchboard_head("dns-rr") + f"""\
pools:
  rr:
    health: {{check: none}}
    servers:
{servers}listeners:
  dns:
    listen: ["127.0.0.1:{PORT_FRONT}"]
    protocol: dns
    dns:
      records:
        - {{name: {DNS_NAME}, type: A, pool: rr, ttl: 30}}
"""
        if name == "dnsdist":
            addrs = ", ".join(f'"{a}"' for a in DNS_ADDRS)
            return f"""\
-- written by bench/run (dns-rr)
-- No console, no web server, no carbon; no security polling (it would
-- query the Internet).
setSecurityPollSuffix("")
-- UDP and TCP on the bench port. UDP: one listener thread; TCP: one worker.
setLocal("127.0.0.1:{PORT_FRONT}")
setMaxTCPClientThreads(1)
-- No newServer: the spoofed answers need no backend (dnsdist warns that
-- other queries are dropped; the load asks only this name).
addAction(QNameRule("{DNS_NAME}"), SpoofAction({{{addrs}}}, {{ttl=30}}))
"""
        return None

    def start_backends(self):
        self.backends = []  # none: both contenders answer by themselves
        with open(self.qfile, "w") as f:
            f.write(f"{DNS_NAME} A\n" * 100)

    def run(self, contender):
        b = self.bench
        rcode, addrs = dns_query_a("127.0.0.1", PORT_FRONT, DNS_NAME)
        if rcode != 0 or sorted(addrs) != sorted(DNS_ADDRS):
            raise BenchError(f"{contender.name} answered {DNS_NAME} A with rcode {rcode} and "
                             f"{addrs or 'no A records'}, not {', '.join(DNS_ADDRS)}")
        argv = ["taskset", "-c", LOAD_CPU, "dnsperf", "-s", "127.0.0.1", "-p", str(PORT_FRONT),
                "-d", self.qfile, "-l", str(self.seconds), "-c", "1", "-T", "1",
                "-q", str(self.OUTSTANDING)]
        b.commands.setdefault("load dns-rr", " ".join(argv))
        pids = contender.pids()
        win = Window()
        c0 = cpu_ns(pids)
        load = b.procs.start("dnsperf", argv, merge=False)
        rc, load_ns, timed_out = b.procs.wait(load, self.seconds + 20)
        c1 = cpu_ns(pids)
        fw = win.close(pids + self.backend_pids(), load_ns)
        with open(load.out, errors="replace") as f:
            text = f.read()
        if timed_out or rc != 0:
            raise BenchError(f"dnsperf failed (exit {rc}{', timed out' if timed_out else ''}): "
                             f"{text[-300:]} {load.tail(3)}")
        m_done = re.search(r"Queries completed:\s+(\d+)", text)
        m_lost = re.search(r"Queries lost:\s+(\d+)", text)
        m_qps = re.search(r"Queries per second:\s+([\d.]+)", text)
        m_codes = re.search(r"Response codes:\s+(.*)", text)
        m_size = re.search(r"Average packet size:\s+request \d+, response (\d+)", text)
        if not (m_done and m_lost and m_qps):
            raise BenchError(f"could not parse dnsperf's output:\n{text}")
        done = int(m_done.group(1))
        if done == 0:
            raise BenchError(f"dnsperf got no answers:\n{text}")
        codes = dict((c, int(n)) for c, n in re.findall(r"([A-Z]+) (\d+) \(",
                                                         m_codes.group(1) if m_codes else ""))
        out = {"qps": float(m_qps.group(1)), "queries": done, "lost": int(m_lost.group(1)),
               "errors": sum(n for c, n in codes.items() if c != "NOERROR"),
               "resp_bytes": int(m_size.group(1)) if m_size else None,
               "cpu_us_per_query": (c1 - c0) / 1e3 / done,
               "load_cpu_pct": 100.0 * load_ns / (self.seconds * 1e9),
               "qps_per_core": done / ((c1 - c0) / 1e9) if c1 > c0 else None}
        out.update(fw)
        return out
