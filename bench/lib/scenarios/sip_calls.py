"""sip-calls: sipp's built-in UAC -> the proxy -> two sipp built-in UAS, over
UDP on loopback; the proxy's CPU per call at a fixed rate, and the highest
stepped rate at which no call failed.

The anchor is kamailio's dispatcher as configured in
/work/shared/bench-anchors/sip-calls.cfg (a copy in bench/anchors/, taken as
it is: its ports are this scenario's, @RUN@ becomes the contender's
directory, where its dispatcher.list goes): stateful relay (tm), round robin
over the two UAS, failover on a 5xx or 1 s of silence, Call-ID -> server for
the in-dialog requests. switchboard: a `sip` listener over a pool of the two
UAS, `balance: round-robin`, `health: {check: none}`, `invite-timeout: 1s`
(the same 1 s as kamailio's fr_timer), UDP only (kamailio: disable_tcp), and
its other sip keys at their defaults (docs/configuration.md, "sip"; it adds
Record-Route, which the anchor does not).

A call is sipp's built-in `uac`: INVITE, 100/180/200, ACK, BYE, 200; the UAC
counts a call failed on any unexpected message, a retransmission limit or a
receive timeout. Every sipp gets `-buff_size 1048576` (BENCH-NOTES: the
bursts of a few thousand calls/s otherwise overflow the socket buffers).

1. Check: 20 calls at 100/s must all succeed, and each UAS must have
   answered some of them (its own statistics file).
2. Phase 1: a fixed rate (2000 calls/s for 10 s). The proxy's CPU time
   (schedstat of all its processes) from the UAC's start to TAIL seconds
   after it exits, divided by the calls that succeeded: kamailio frees a
   finished transaction ~5 s later (tm's wait timer), and that work belongs
   to the calls. The figure to the UAC's exit is shown beside it.
3. Phase 2: the rate stepped ×1.5 from 2000, one short UAC run per step,
   until a step has a call that did not succeed (at most MAX_STEPS steps).
   The max rate is the last step with none; 0 when the first step failed.
"""
import os
import time

from ..common import (BenchError, LOAD_CPU, PORT_SIP, PORT_SIP_CTRL, PORT_SIP_UAC, PORT_SIP_UAS,
                     log, switchboard_head)
from ..net import udp_bound
from ..procs import Window, cpu_ns, wait_until
from ..scenario import Metric, Scenario

ANCHOR_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "anchors")
BUFF = "1048576"
STEP = 1.5
MAX_STEPS = 6
SWITCHBOARDS = ("switchboard", "switchboard-base", "switchboard-nometrics")
# sipp's watchdog ends a run after 120 main-loop stalls of 0.5 s (or 10 of
# 3 s); on a loaded CPU 0 that must not end a measurement.
WATCHDOG = ["-watchdog_minor_maxtriggers", "1000000", "-watchdog_major_maxtriggers", "1000000"]


def read_stats(path):
    """The last line of a sipp -trace_stat file, as {column: value}."""
    try:
        with open(path, errors="replace") as f:
            lines = [line.rstrip("\n") for line in f if line.strip()]
    except OSError:
        return None
    if len(lines) < 2:
        return None
    return dict(zip(lines[0].split(";"), lines[-1].split(";")))


def stat_int(stats, key):
    try:
        return int(stats.get(key, ""))
    except ValueError:
        return None


class SipCalls(Scenario):
    name = "sip-calls"
    backend_port = PORT_SIP_UAS[0]  # --contenders direct: the UAC straight to the first UAS
    front_port = PORT_SIP
    front_tcp = False  # UDP only, as the anchor (disable_tcp)
    front_udp = True
    udp_ports = (*PORT_SIP_UAS, PORT_SIP_UAC, *PORT_SIP_CTRL)
    raw_extra = ["steps", "uas_split", "p1_why"]

    @classmethod
    def tools(cls, contenders):
        return {"sipp"} | ({"kamailio"} if "kamailio" in contenders else set())

    def __init__(self, bench):
        super().__init__(bench)
        q = bench.quick
        self.rate = 500 if q else 2000  # phase 1, and the first step of phase 2
        self.seconds = 3 if q else 10
        self.tail = 2 if q else 6  # > kamailio's 5 s wait timer
        self.steps = 2 if q else MAX_STEPS
        self.step_seconds = 2 if q else 3
        self.runs = 0
        self.metrics = [
            Metric("cpu_us_per_call", "proxy µs CPU/call", "{:.1f}", "lower"),
            Metric("cpu_us_per_call_end", "µs CPU/call to UAC exit", "{:.1f}"),
            Metric("p1_failed", f"failed calls at {self.rate}/s", "{:.0f}"),
            Metric("p1_cps", "calls/s achieved", "{:.0f}"),
            Metric("p1_retrans", "retransmissions", "{:.0f}"),
            # Near 100 % the proxy sets the pace; lower, CPU 0 (sipp, the
            # UAS, the kernel's receive work) does (BENCH-NOTES).
            Metric("proxy_cpu_pct", "proxy CPU %", "{:.0f}"),
            Metric("load_cpu_pct", "sipp UAC CPU %", "{:.0f}"),
            Metric("max_rate", "max calls/s, 0 failed", "{:.0f}", "higher"),
            Metric("max_cps", "achieved at max", "{:.0f}"),
        ]
        rates = [self.step_rate(i) for i in range(self.steps)]
        self.load_desc = (
            f"sipp -sn uac (built-in UAC: INVITE, 100/180/200, ACK, BYE, 200; no pause) to "
            f"UDP 127.0.0.1:{PORT_SIP} from :{PORT_SIP_UAC}, -buff_size {BUFF} on every sipp; "
            f"two sipp -sn uas on :{PORT_SIP_UAS[0]} and :{PORT_SIP_UAS[1]}; after a check (20 "
            f"calls at 100/s, all must succeed and reach both UAS), phase 1: {self.rate} "
            f"calls/s for {self.seconds} s (-m {self.rate * self.seconds}), proxy CPU from the "
            f"UAC's start to {self.tail} s after its exit; phase 2: {self.step_seconds} s "
            f"per step at {', '.join(map(str, rates))} calls/s, stopping at the first step "
            f"with a call that did not succeed; max rate = the last step with none "
            f"(--contenders direct: the UAC straight to the first UAS)")
        self.note = ("target (BENCH-NOTES): proxy µs CPU/call ≤ 0.80 × kamailio's (ratio ≤ "
                     "0.80) and max calls/s with 0 failed ≥ kamailio's (ratio ≥ 1.00); the "
                     f"steps are ×{STEP} apart, so equal max rates mean within that factor. "
                     "\"achieved\" is sipp's own call rate (CallRate(C)): below the step's "
                     "rate, the UAC on CPU 0 could not keep up")
        self.uas_stats = {}

    def step_rate(self, i):
        return int(round(self.rate * STEP ** i))

    def supports(self, contender):
        return contender.name in SWITCHBOARDS + ("kamailio", "direct")

    def contender_config(self, name):
        if name in SWITCHBOARDS:
            servers = "".join(f"      - {{address: 127.0.0.1:{p}, name: uas{i}}}\n"
                              for i, p in enumerate(PORT_SIP_UAS, 1))
            return switchboard_head("sip-calls") + f"""\
pools:
  uas:
    balance: round-robin
    health: {{check: none}}
    servers:
{servers}listeners:
  sip:
    listen: ["127.0.0.1:{PORT_SIP}"]
    protocol: sip
    pool: uas
    # UDP only, as the anchor (disable_tcp); a silent server: the next
    # one after 1 s, as kamailio's fr_timer.
    sip: {{transports: [udp], invite-timeout: 1s}}
"""
        if name == "kamailio":
            with open(os.path.join(ANCHOR_DIR, "sip-calls.cfg")) as f:
                return f.read()
        return None

    def contender_files(self, name):
        if name == "kamailio":
            with open(os.path.join(ANCHOR_DIR, "dispatcher.list")) as f:
                return {"dispatcher.list": f.read()}
        return {}

    # ------------------------------------------------------------ backends

    def start_backends(self):
        b = self.bench
        self.backends = []
        for port, ctrl in zip(PORT_SIP_UAS, PORT_SIP_CTRL):
            stats = self.uas_stats[port] = os.path.join(b.tmp, f"sipp-uas-{port}.csv")
            # -bind_local: 127.0.0.1 only; -recv_timeout: a call whose ACK or
            # BYE never comes ends after 10 s instead of staying open; its
            # statistics every second (the check reads them).
            argv = ["taskset", "-c", LOAD_CPU, "sipp", "-sn", "uas", "-i", "127.0.0.1",
                    "-bind_local", "-p", str(port), "-buff_size", BUFF, "-nostdin",
                    "-ci", "127.0.0.1", "-cp", str(ctrl), "-recv_timeout", "10000",
                    "-trace_stat", "-stf", stats, "-fd", "1"] + WATCHDOG
            b.commands.setdefault(f"backend {self.name}", " ".join(argv) + " (and :"
                                  f"{PORT_SIP_UAS[1]}, control :{PORT_SIP_CTRL[1]})")
            p = b.procs.start(f"sipp-uas-{port}", argv)
            self.backends.append(p)
            wait_until(lambda: udp_bound(port), 15, f"sipp UAS on UDP {port}", p)

    def backends_alive(self, when):
        for p in self.backends:
            if not p.alive():
                raise BenchError(f"{p.name} exited (status {p.popen.returncode}) {when}: "
                                 f"{' '.join(p.tail(4).split())}")

    def uas_calls(self):
        """{port: IncomingCall(C), CurrentCall} from each UAS's statistics."""
        out = {}
        for port, path in self.uas_stats.items():
            s = read_stats(path) or {}
            out[port] = (stat_int(s, "IncomingCall(C)") or 0, stat_int(s, "CurrentCall") or 0)
        return out

    def settle(self):
        """After a contender stopped: wait (up to 12 s) until neither UAS has
        a call open (their statistics are a second old)."""
        time.sleep(1.2)
        deadline = time.monotonic() + 12
        while any(cur for _n, cur in self.uas_calls().values()):
            if time.monotonic() > deadline:
                log(f"  the UAS still have calls open: {self.uas_calls()}")
                return
            time.sleep(0.5)

    # ------------------------------------------------------------ the UAC

    def uac(self, contender, rate, calls, what):
        """Runs sipp's built-in UAC for `calls` calls at `rate` calls/s;
        returns (a dict of what it counted, its CPU ns from wait4)."""
        b = self.bench
        self.runs += 1
        stats = os.path.join(b.tmp, f"sipp-uac-{self.runs}.csv")
        seconds = -(-calls // rate)
        port = contender.port(self.backend_port)
        # -l: at most 5 s of calls open (the default is 3 × call length ×
        # rate, near 0 for these calls without a pause); -recv_timeout: a
        # response that never comes fails the call; -timeout: the whole run
        # is bounded, and -timeout_error makes reaching it an error.
        argv = ["taskset", "-c", LOAD_CPU, "sipp", "-sn", "uac", f"127.0.0.1:{port}",
                "-i", "127.0.0.1", "-bind_local", "-p", str(PORT_SIP_UAC), "-buff_size", BUFF,
                "-nostdin", "-ci", "127.0.0.1", "-cp", str(PORT_SIP_CTRL[2]),
                "-r", str(rate), "-rp", "1000", "-m", str(calls), "-l", str(max(100, rate * 5)),
                "-recv_timeout", "5000", "-timeout", str(seconds + 15), "-timeout_error",
                "-trace_stat", "-stf", stats] + WATCHDOG
        if what != "check":
            shown = [a if a != f"127.0.0.1:{port}" else f"127.0.0.1:{PORT_SIP}" for a in argv]
            b.commands.setdefault(f"load {self.name}", " ".join(shown).replace(
                stats, "FILE") + " (rate, -m, -l, -timeout per phase and step)")
        p = b.procs.start("sipp-uac", argv)
        rc, ns, timed_out = b.procs.wait(p, seconds + 25)
        s = read_stats(stats)
        if s is None or stat_int(s, "SuccessfulCall(C)") is None:
            raise BenchError(f"sipp UAC ({what}, {rate} calls/s) exited {rc}"
                             f"{', timed out' if timed_out else ''} with no statistics: "
                             f"{' '.join(p.tail(6).split())}")
        ok = stat_int(s, "SuccessfulCall(C)")
        failed = stat_int(s, "FailedCall(C)") or 0
        created = stat_int(s, "OutgoingCall(C)") or 0
        # Every call of the -m asked that did not succeed counts: failed,
        # still open at the end, or never started (the run timed out).
        why = [f"{k[6:-3]} {v}" for k, v in s.items() if k.startswith("Failed")
               and k.endswith("(C)") and k != "FailedCall(C)" and v not in ("", "0")]
        if created - ok - failed > 0:
            why.append(f"unfinished {created - ok - failed}")
        if calls - created > 0:
            why.append(f"not started {calls - created}")
        if rc not in (0, 1) or timed_out:
            why.append(f"sipp exit {rc}{' (killed: timed out)' if timed_out else ''}")
        try:
            cps = float(s.get("CallRate(C)", ""))
        except ValueError:
            cps = None
        return ({"ok": ok, "failed": calls - ok, "cps": cps, "why": ", ".join(why),
                 "retrans": stat_int(s, "Retransmissions(C)")}, ns)

    def check(self, contender):
        """Before the load: 20 calls at 100/s all succeed, and reach both UAS
        (the first only, for direct)."""
        self.backends_alive("before the check")
        before = self.uas_calls()
        r, _ns = self.uac(contender, 100, 20, "check")
        if r["failed"]:
            raise BenchError(f"{contender.name}: {r['failed']} of 20 check calls (100/s) did "
                             f"not succeed ({r['why']})")
        want = PORT_SIP_UAS if contender.is_proxy else PORT_SIP_UAS[:1]
        deadline = time.monotonic() + 4
        while True:  # the UAS write their statistics every second
            now = self.uas_calls()
            got = {p: now[p][0] - before[p][0] for p in PORT_SIP_UAS}
            if all(got[p] > 0 for p in want) and sum(got.values()) >= 20:
                return
            if time.monotonic() > deadline:
                raise BenchError(f"{contender.name}: the 20 check calls reached the UAS as "
                                 f"{got}, not all of {list(want)}")
            time.sleep(0.25)

    # ------------------------------------------------------------ phases

    def run(self, contender):
        self.check(contender)
        time.sleep(0.5)
        pids = contender.pids()
        # Phase 1: the fixed rate; CPU to the UAC's exit and TAIL s later.
        before = self.uas_calls()
        win = Window()
        c0, t0 = cpu_ns(pids), time.monotonic()
        r, load_ns = self.uac(contender, self.rate, self.rate * self.seconds, "phase 1")
        c_end, t_end = cpu_ns(pids), time.monotonic()
        time.sleep(self.tail)
        c_tail = cpu_ns(pids)
        fw = win.close(pids + self.backend_pids(), load_ns)
        self.backends_alive("during phase 1")
        after = self.uas_calls()
        out = {"p1_failed": r["failed"], "p1_cps": r["cps"], "p1_retrans": r["retrans"],
               "p1_why": r["why"] or "–",
               "load_cpu_pct": 100.0 * load_ns / ((t_end - t0) * 1e9),
               "uas_split": "/".join(str(after[p][0] - before[p][0]) for p in PORT_SIP_UAS)}
        if contender.is_proxy and r["ok"]:
            out["cpu_us_per_call"] = (c_tail - c0) / 1e3 / r["ok"]
            out["cpu_us_per_call_end"] = (c_end - c0) / 1e3 / r["ok"]
            out["proxy_cpu_pct"] = 100.0 * (c_end - c0) / ((t_end - t0) * 1e9)
        # Phase 2: step the rate until a step has a call that did not succeed.
        win2 = Window()
        steps, max_rate, max_cps, load2_ns = [], 0, None, 0
        for i in range(self.steps):
            rate = self.step_rate(i)
            s, ns = self.uac(contender, rate, rate * self.step_seconds, f"step {i + 1}")
            load2_ns += ns
            cps = f"{s['cps']:.0f}" if s["cps"] is not None else "?"
            steps.append(f"{rate}: {s['failed']} failed ({cps}/s"
                         + (f"; {s['why']})" if s["why"] else ")"))
            if s["failed"]:
                break
            max_rate, max_cps = rate, s["cps"]
            time.sleep(1.0)  # the last calls' retransmissions and timers end
        fw2 = win2.close(pids + self.backend_pids(), load2_ns)
        self.backends_alive("during the load")
        out.update({"max_rate": max_rate, "max_cps": max_cps, "steps": "; ".join(steps)})
        # The foreign-CPU figures of the phase with more of it.
        out.update(fw2 if fw2["foreign"] > fw["foreign"] else fw)
        return out
