"""smtp-relay: smtp-source through the proxy to three smtp-sink; messages/s
and the proxy's CPU per message."""
import time

from ..common import BenchError, LOAD_CPU, PORT_FRONT, PORT_SMTP, switchboard_head
from ..contenders import HAPROXY_CONF
from ..net import listening
from ..procs import Window, cpu_ns, wait_until
from ..scenario import Metric, Scenario


class SmtpRelay(Scenario):
    """smtp-source -> proxy -> three smtp-sink: messages per second and proxy
    CPU per message; switchboard's smtp listener (waits for each 220) against
    haproxy in tcp mode with the same backends."""
    name = "smtp-relay"
    backend_port = PORT_SMTP[0]
    metrics = [
        Metric("msgs_per_s", "messages/s", "{:.0f}", "higher"),
        Metric("cpu_us_per_msg", "proxy µs CPU/message", "{:.1f}", "lower"),
        Metric("messages", "messages", "{:.0f}"),
        Metric("errors", "errors", "{:.0f}"),
    ]

    def __init__(self, bench):
        super().__init__(bench)
        self.n = 5000 if bench.quick else 20000
        self.load_desc = (f"smtp-source -s 20 -m {self.n} (20 sessions in parallel, one message "
                          f"per session) through the proxy to three smtp-sink on "
                          f":{PORT_SMTP[0]}-{PORT_SMTP[-1]}")

    # switchboard-base: the same configuration run by another build.
    def supports(self, contender):
        return contender.name in ("switchboard", "switchboard-base", "haproxy")

    def contender_config(self, name):
        servers = list(enumerate(PORT_SMTP, 1))
        if name in ("switchboard", "switchboard-base"):
            lines = "".join(f"      - {{address: 127.0.0.1:{p}, name: sink{i}}}\n"
                            for i, p in servers)
            return switchboard_head("smtp-relay") + f"""\
pools:
  relay:
    balance: round-robin
    health: {{check: none}}
    servers:
{lines}listeners:
  smtp-vip:
    listen: ["127.0.0.1:{PORT_FRONT}"]
    protocol: smtp
    pool: relay
    smtp: {{mode: passthrough, banner-timeout: 10s}}
    max-connections: 20000
"""
        if name == "haproxy":
            lines = "".join(f"    server sink{i} 127.0.0.1:{p}\n" for i, p in servers)
            return HAPROXY_CONF.format(backend=PORT_SMTP[0], front=PORT_FRONT).rsplit(
                "\nbackend bench", 1)[0] + "\nbackend bench\n    balance roundrobin\n" + lines
        return None

    def start_backends(self):
        b = self.bench
        self.backends = []
        for p in PORT_SMTP:
            argv = ["taskset", "-c", LOAD_CPU, "smtp-sink", "-u", "nobody", f"127.0.0.1:{p}",
                    "1000"]
            b.commands.setdefault(f"backend smtp-relay {p}", " ".join(argv))
            proc = b.procs.start(f"smtp-sink-{p}", argv)
            self.backends.append(proc)
            wait_until(lambda: listening(p), 10, f"smtp-sink on {p}", proc)

    def run(self, contender):
        b = self.bench
        argv = ["taskset", "-c", LOAD_CPU, "smtp-source", "-s", "20", "-m", str(self.n),
                "-f", "a@example.test", "-t", "b@example.test",
                f"127.0.0.1:{contender.port(PORT_SMTP[0])}"]
        b.commands.setdefault("load smtp-relay", " ".join(argv))
        pids = contender.pids()
        win = Window()
        c0, t0 = cpu_ns(pids), time.monotonic()
        load = b.procs.start("smtp-source", argv, merge=False)
        rc, load_ns, timed_out = b.procs.wait(load, 300)
        c1, t1 = cpu_ns(pids), time.monotonic()
        fw = win.close(pids + self.backend_pids(), load_ns)
        with open(load.err, errors="replace") as f:
            err = f.read()
        if timed_out or rc != 0:
            raise BenchError(f"smtp-source failed (exit {rc}): {err[-300:]}")
        out = {"msgs_per_s": self.n / (t1 - t0), "cpu_us_per_msg": (c1 - c0) / 1e3 / self.n,
               "messages": self.n, "errors": err.count("fatal")}
        out.update(fw)
        return out
