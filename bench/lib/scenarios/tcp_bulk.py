"""tcp-bulk: one iperf3 stream through the proxy (L4); Gbit/s and the proxy's
CPU per GB the server received."""
import json

from ..common import BenchError, LOAD_CPU, PORT_FRONT, PORT_IPERF
from ..net import listening
from ..procs import Window, cpu_ns, wait_until
from ..scenario import Metric, Scenario


class TcpBulk(Scenario):
    name = "tcp-bulk"
    backend_port = PORT_IPERF
    metrics = [
        Metric("gbps", "Gbit/s", "{:.2f}", "higher"),
        Metric("cpu_ms_per_gb", "proxy ms CPU/GB", "{:.0f}", "lower"),
        Metric("proxy_cpu_ms", "proxy CPU ms", "{:.0f}"),
        Metric("gbytes", "GB moved", "{:.2f}"),
        Metric("retrans", "retransmits", "{:.0f}"),
    ]

    @classmethod
    def tools(cls, contenders):
        return {"iperf3"}

    def __init__(self, bench):
        super().__init__(bench)
        self.seconds = 2 if bench.quick else 5
        self.load_desc = (f"iperf3 -c 127.0.0.1 -p {PORT_FRONT} -t {self.seconds} -J "
                          f"(one TCP stream, client to server) through the proxy to "
                          f"iperf3 -s on :{PORT_IPERF}")

    def start_backends(self):
        b = self.bench
        argv = ["taskset", "-c", LOAD_CPU, "iperf3", "-s", "-B", "127.0.0.1", "-p", str(PORT_IPERF)]
        b.commands.setdefault("backend tcp-bulk", " ".join(argv))
        p = b.procs.start("iperf3-server", argv)
        self.backends = [p]
        wait_until(lambda: listening(PORT_IPERF), 10, "iperf3 -s to listen", p)

    def restart_backends(self):
        for p in self.backends:
            self.bench.procs.stop(p)
        wait_until(lambda: not listening(PORT_IPERF), 10, "iperf3 -s to exit")
        self.start_backends()

    def run(self, contender):
        b = self.bench
        argv = ["taskset", "-c", LOAD_CPU, "iperf3", "-c", "127.0.0.1",
                "-p", str(contender.port(PORT_IPERF)), "-t", str(self.seconds), "-J",
                "--connect-timeout", "3000"]
        b.commands.setdefault("load tcp-bulk", " ".join(argv))
        win = Window()
        pids = contender.pids()
        c0 = cpu_ns(pids)
        load = b.procs.start("iperf3-client", argv, merge=False)
        rc, load_ns, timed_out = b.procs.wait(load, self.seconds + 20)
        c1 = cpu_ns(pids)
        fw = win.close(pids + self.backend_pids(), load_ns)
        with open(load.out, errors="replace") as f:
            text = f.read()
        try:
            res = json.loads(text)
        except ValueError:
            res = {"error": f"no JSON from iperf3 (exit {rc}): {text[-300:]} {load.tail(3)}"}
        if timed_out or rc != 0 or "error" in res:
            self.restart_backends()  # iperf3 -s can stay wedged after a failed test
            raise BenchError(f"iperf3 failed (exit {rc}{', timed out' if timed_out else ''}): "
                             f"{res.get('error', '')}")
        recv = res["end"]["sum_received"]
        out = {
            "gbps": recv["bits_per_second"] / 1e9,
            "gbytes": recv["bytes"] / 1e9,
            "retrans": res["end"].get("sum_sent", {}).get("retransmits", 0),
        }
        if contender.is_proxy:
            out["proxy_cpu_ms"] = (c1 - c0) / 1e6
            out["cpu_ms_per_gb"] = out["proxy_cpu_ms"] / out["gbytes"]
        out.update(fw)
        return out
