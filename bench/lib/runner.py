"""Bench: one run of the suite. The preflight checks (ports, tools, CPUs),
the snapshot of the switchboard binaries, the rounds of one scenario with
the contenders alternated, and where its report is written."""
import datetime
import hashlib
import os
import re
import resource
import shutil
import subprocess
import tempfile
import time

from .common import ALL_PORTS, BENCH_DIR, DEFAULT_BIN, FOREIGN_LIMIT, BenchError, log
from .contenders import SUBJECTS
from .net import listening, udp_bound
from .procs import Procs, read, reap_stale_runs
from .report import fmt_val
from .scenarios import SCENARIOS


class Bench:
    def __init__(self, args):
        self.current_scenario = None
        self.rounds = args.rounds
        self.quick = args.quick
        self.started = datetime.datetime.now()
        self.tmp = tempfile.mkdtemp(prefix="switchboard-bench.")
        os.chmod(self.tmp, 0o755)  # nginx workers (nobody) read the backend's file below it
        self.procs = Procs(self.tmp)
        self.commands = {}
        self.configs = {}
        self.checked = set()
        self.switchboard_bin = None
        self.sb_desc = "not run"
        self.versions = ""
        self.cpu_model = ""

    def preflight(self, contenders, scenarios):
        reap_stale_runs(self.tmp)
        lo = int(read("/proc/sys/net/ipv4/ip_local_port_range").split()[0])
        if max(ALL_PORTS) >= lo:
            raise BenchError(f"bench ports {ALL_PORTS} reach into the ephemeral range "
                             f"(starts at {lo}); change them in bench/lib/common.py")
        busy = [p for p in ALL_PORTS if listening(p)]
        for n in scenarios:
            sc = SCENARIOS[n]
            udp = ((sc.front_port,) if sc.front_udp else ()) + tuple(sc.udp_ports)
            busy += [f"{p}/udp" for p in udp if udp_bound(p) and f"{p}/udp" not in busy]
        if busy:
            raise BenchError(f"bench ports already in use: {busy} (a leftover run? "
                             f"check `ss -ltnp`)")
        if os.cpu_count() < 2:
            raise BenchError("needs at least 2 CPUs (proxy on CPU 1, load on CPU 0)")
        need = {"taskset"}
        for name in scenarios:
            need |= SCENARIOS[name].tools(contenders)
        if "haproxy" in contenders:
            need.add("haproxy")
        if "nginx" in contenders:
            need.add("nginx")
        missing = [t for t in sorted(need) if not shutil.which(t)]
        if missing:
            raise BenchError(f"missing tools: {' '.join(missing)}; install them with "
                             f"`bash scripts/setup --bench`")
        if "nginx" in contenders and not os.path.exists("/usr/lib/nginx/modules/ngx_stream_module.so"):
            raise BenchError("nginx stream module missing (/usr/lib/nginx/modules/"
                             "ngx_stream_module.so): `bash scripts/setup --bench`")
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        try:
            self.cpu_model = next(l.split(":", 1)[1].strip() for l in read("/proc/cpuinfo").splitlines()
                                  if l.startswith("model name"))
        except StopIteration:
            self.cpu_model = "cpu ?"
        vers = []
        for tool, argv in (("haproxy", ["haproxy", "-v"]), ("nginx", ["nginx", "-v"]),
                           ("iperf3", ["iperf3", "--version"]), ("wrk", ["wrk", "--version"]),
                           ("h2load", ["h2load", "--version"]),
                           ("dnsdist", ["dnsdist", "--version"]), ("dnsperf", ["dnsperf", "-h"]),
                           ("kamailio", ["kamailio", "-v"]), ("sipp", ["sipp", "-v"])):
            if shutil.which(tool):
                r = subprocess.run(argv, capture_output=True, text=True, timeout=10)
                text = (r.stdout + r.stderr).strip()
                if tool == "dnsperf":  # no --version: its help ends with "Version X"
                    m = re.search(r"^Version (\S+)", text, re.M)
                    vers.append(f"dnsperf {m.group(1) if m else '?'}")
                    continue
                first = text.splitlines()[0] if text else "?"
                vers.append(first.replace("HAProxy version ", "haproxy ").replace("nginx version: ", "")
                            .replace("version: kamailio", "kamailio").replace("SIPp v", "sipp ")
                            .split(" - ")[0].split(" Copyright")[0].split(" (Lua")[0].strip())
        self.versions = "; ".join(vers)
        if any(c in SUBJECTS for c in contenders):
            self.snapshot_switchboard()

    @staticmethod
    def copy_build(src, dst):
        """Copies a switchboard binary to `dst` and checks that it runs.
        Returns (its `version` line, the first 12 hex digits of its sha256)."""
        shutil.copy2(src, dst)
        h = hashlib.sha256()
        with open(dst, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        r = subprocess.run([dst, "version"], capture_output=True, text=True, timeout=10)
        if r.returncode != 0:
            raise BenchError(f"{src} does not run: {r.stderr.strip()}")
        ver = r.stdout.strip().splitlines()[0]
        if "fault hooks built in" in r.stdout:
            # -DSWITCHBOARD_FAULT_HOOKS=ON: the tests' hooks cost one load and
            # compare per accept; say so beside the figures.
            ver += " (built with the test fault hooks: one load and compare per accept)"
        return ver, h.hexdigest()[:12]

    def snapshot_switchboard(self):
        """Copy the binary once, so that a rebuild during the run cannot mix
        two builds in one table. Waits (up to 10 min) while it is missing."""
        src = os.environ.get("SWITCHBOARD_BIN", DEFAULT_BIN)
        deadline = time.monotonic() + 600
        while True:
            try:
                st1 = os.stat(src)
                time.sleep(1.0)
                st2 = os.stat(src)
                if st1.st_size == st2.st_size and st1.st_mtime == st2.st_mtime and st1.st_size > 0:
                    break
            except FileNotFoundError:
                pass
            if time.monotonic() > deadline:
                raise BenchError(f"{src} is missing or still being written after 10 minutes")
            log(f"waiting for {src} (missing or being rebuilt)")
            time.sleep(10)
        dst = os.path.join(self.tmp, "switchboard")
        ver, sha = self.copy_build(src, dst)
        # The tree the binary was built from (build/ is in it), which is not
        # this checkout when $SWITCHBOARD_BIN names another one.
        tree = os.path.dirname(os.path.dirname(os.path.abspath(src)))
        git = subprocess.run(["git", "-C", tree, "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True)
        dirty = subprocess.run(["git", "-C", tree, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True)
        commit = git.stdout.strip() or "?"
        if dirty.stdout.strip():
            commit += " + uncommitted changes"
        mtime = datetime.datetime.fromtimestamp(os.stat(src).st_mtime)
        self.switchboard_bin = dst
        self.base_bin = None
        base_src = os.environ.get("SWITCHBOARD_BASE_BIN")
        if base_src:
            self.base_bin = os.path.join(self.tmp, "switchboard-base")
            _, base_sha = self.copy_build(base_src, self.base_bin)
            base_git = subprocess.run(["git", "-C", os.path.dirname(os.path.dirname(
                os.path.abspath(base_src))), "rev-parse", "--short", "HEAD"],
                capture_output=True, text=True).stdout.strip() or "?"
        self.sb_desc = (f"{ver}, {src} built {mtime:%Y-%m-%d %H:%M}, sha256 {sha}, "
                        f"tree {tree} at {commit}; switchboard = default relay (auto), "
                        f"switchboard-splice = tuning.relay: splice, "
                        f"switchboard-copy = tuning.relay: copy")
        if self.base_bin:
            self.sb_desc += (f"; switchboard-base = {base_src}, sha256 {base_sha}, "
                             f"its tree at {base_git}")

    def run_scenario(self, sc, contenders):
        self.current_scenario = sc
        results, failures = [], []
        active = [c for c in contenders if sc.supports(c)]
        skipped = [c.name for c in contenders if not sc.supports(c)]
        if skipped:
            log(f"{sc.name}: skipping {', '.join(skipped)} (not applicable)")
        sc.start_backends()
        try:
            for rnd in range(1, self.rounds + 1):
                for c in active:
                    log(f"{sc.name}: round {rnd}/{self.rounds}: {c.name}")
                    try:
                        c.start(sc.backend_port)
                        try:
                            r = sc.run(c)
                        finally:
                            tail = c.stop()
                        results.append((rnd, c.name, r))
                        shown = ", ".join(f"{m.label} {fmt_val(m, r.get(m.key))}"
                                          for m in sc.metrics if m.better and r.get(m.key) is not None)
                        warn = f"  ⚠ foreign CPU {r['foreign'] * 100:.1f}% ({r['top']})" \
                            if r["foreign"] > FOREIGN_LIMIT else ""
                        log(f"  {shown}{warn}")
                        if tail and c.name in SUBJECTS and re.search(r"\b(error|critical)\b", tail, re.I):
                            log(f"  {c.name} logged:\n{tail}")
                    except BenchError as e:
                        log(f"  FAILED: {e}")
                        failures.append((rnd, c.name, str(e)))
                        if c.proc:
                            c.stop()
                    sc.settle()
        finally:
            for p in sc.backends:
                self.procs.stop(p)
        return results, failures

    def write(self, sc, text):
        sub = os.path.join(BENCH_DIR, "results", "quick") if self.quick else \
            os.path.join(BENCH_DIR, "results")
        os.makedirs(sub, exist_ok=True)
        path = os.path.join(sub, f"{self.started:%Y-%m-%dT%H%M}-{sc.name}.md")
        with open(path, "w") as f:
            f.write(text + "\n")
        return path
