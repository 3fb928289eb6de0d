"""Processes: reads from /proc (CPU time from schedstat, RSS, descendants),
starting and stopping what the runner runs, tracked by PID and start time
(so that a reused PID is never killed), reaping what a SIGKILLed runner left
behind, and the foreign-CPU window around every measurement."""
import ctypes
import os
import shutil
import signal
import subprocess
import time

from .common import BenchError, log

OWNED_FILE = "owned-pids"  # in the temp dir: "PID STARTTIME NAME" of all we started

CLK_TCK = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------- /proc reads

def read(path):
    with open(path) as f:
        return f.read()


def proc_stat_fields(pid):
    """(comm, ppid, starttime) from /proc/PID/stat, or None."""
    try:
        s = read(f"/proc/{pid}/stat")
    except OSError:
        return None
    lp, rp = s.index("("), s.rindex(")")
    rest = s[rp + 2:].split()
    return s[lp + 1:rp], int(rest[1]), int(rest[19])


def schedstat_ns(pid):
    """Sum of the first schedstat field (ns on CPU) over all tasks of PID."""
    total = 0
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0
    for tid in tids:
        try:
            total += int(read(f"/proc/{pid}/task/{tid}/schedstat").split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return total


def cpu_ns(pids):
    return sum(schedstat_ns(p) for p in pids)


def rss_kb(pids):
    total = 0
    for pid in pids:
        try:
            for line in read(f"/proc/{pid}/status").splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def all_pids():
    return [int(d) for d in os.listdir("/proc") if d.isdigit()]


def descendants(pid):
    kids = {}
    for p in all_pids():
        st = proc_stat_fields(p)
        if st:
            kids.setdefault(st[1], []).append(p)
    out, todo = [], [pid]
    while todo:
        for c in kids.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def machine_busy_ticks():
    """Non-idle time of all CPUs from /proc/stat, in clock ticks."""
    f = [int(x) for x in read("/proc/stat").splitlines()[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq = f[:7]
    return user + nice + system + irq + softirq


def count_fds(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


# ------------------------------------------------------------ process control

try:
    _libc = ctypes.CDLL(None, use_errno=True)
except OSError:
    _libc = None


def _child_setup():
    # Die with the runner even if it is SIGKILLed (PR_SET_PDEATHSIG = 1).
    if _libc is not None:
        _libc.prctl(1, signal.SIGKILL, 0, 0, 0)


class Proc:
    def __init__(self, name, popen, out, err, record):
        self.name, self.popen, self.out, self.err = name, popen, out, err
        self.pid = popen.pid
        self.record = record
        st = proc_stat_fields(self.pid)
        self.identity = {self.pid: st[2] if st else None}  # pid -> starttime
        record(self.pid, self.identity[self.pid], name)
        self.rusage_ns = None

    def tree(self):
        """The process and its descendants (nginx master + worker)."""
        pids = [self.pid] + descendants(self.pid)
        for p in pids:
            if p not in self.identity:
                st = proc_stat_fields(p)
                if st:
                    self.identity[p] = st[2]
                    self.record(p, st[2], f"{self.name} child")
        return [p for p in pids if self.alive_pid(p)]

    def alive_pid(self, pid):
        st = proc_stat_fields(pid)
        return st is not None and st[2] == self.identity.get(pid) and not self._zombie(pid)

    @staticmethod
    def gone_or_zombie(pid):
        return proc_stat_fields(pid) is None or Proc._zombie(pid)

    @staticmethod
    def _zombie(pid):
        try:
            return read(f"/proc/{pid}/stat").rsplit(")", 1)[1].split()[0] == "Z"
        except OSError:
            return True

    def alive(self):
        return self.popen.poll() is None

    def tail(self, n=15):
        text = ""
        for path in (self.out, self.err):
            if path and os.path.exists(path):
                with open(path, errors="replace") as f:
                    text += f.read()
        return "\n".join(text.strip().splitlines()[-n:])


class Procs:
    """Everything the runner starts; killed by PID on exit, error or signal."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.live = []
        self.seq = 0
        self.owned = os.path.join(tmp, OWNED_FILE)
        me = proc_stat_fields(os.getpid())
        self.record(os.getpid(), me[2], "runner")

    def record(self, pid, starttime, name):
        """Every PID we start (and its children), with its start time, so that
        a later run can kill what a SIGKILLed runner left behind."""
        with open(self.owned, "a") as f:
            f.write(f"{pid} {starttime} {name}\n")

    def start(self, name, argv, env=None, merge=True):
        self.seq += 1
        out = os.path.join(self.tmp, f"{self.seq:03d}-{name}.out")
        err = out if merge else os.path.join(self.tmp, f"{self.seq:03d}-{name}.err")
        fo = open(out, "wb")
        fe = fo if merge else open(err, "wb")
        try:
            popen = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=fo, stderr=fe,
                                     env=env, start_new_session=True,
                                     preexec_fn=_child_setup)
        finally:
            fo.close()
            if fe is not fo:
                fe.close()
        p = Proc(name, popen, out, err if not merge else None, self.record)
        self.live.append(p)
        with open(os.path.join(self.tmp, "pids.log"), "a") as f:
            f.write(f"{time.strftime('%H:%M:%S')} {p.pid} {name}: {' '.join(argv)}\n")
        return p

    def wait(self, p, timeout):
        """Wait for P to exit within TIMEOUT (killed otherwise); returns
        (exit status, its CPU time in ns from wait4's rusage, timed_out)."""
        deadline = time.monotonic() + timeout
        timed_out = False
        while True:
            pid, status, ru = os.wait4(p.pid, os.WNOHANG)
            if pid == p.pid:
                break
            if time.monotonic() > deadline:
                timed_out = True
                self._signal_tree(p, signal.SIGKILL)
                pid, status, ru = os.wait4(p.pid, 0)
                break
            time.sleep(0.02)
        p.popen.returncode = os.waitstatus_to_exitcode(status)
        p.rusage_ns = int((ru.ru_utime + ru.ru_stime) * 1e9)
        if p in self.live:
            self.live.remove(p)
        return p.popen.returncode, p.rusage_ns, timed_out

    def _signal_tree(self, p, sig):
        for pid in [p.pid] + [q for q in p.identity if q != p.pid]:
            if pid == p.pid and p.popen.returncode is not None:
                continue
            if pid != p.pid and not p.alive_pid(pid):
                continue
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass

    def stop(self, p, grace=5.0):
        """SIGTERM the process (its children go with it), SIGKILL what is left."""
        p.tree()  # record descendants' identities before they are reparented
        if p.alive():
            try:
                os.kill(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                p.popen.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                log(f"{p.name} (pid {p.pid}) ignored SIGTERM for {grace}s: SIGKILL")
                self._signal_tree(p, signal.SIGKILL)
                p.popen.wait(timeout=5)
        leftovers = [q for q in p.identity if q != p.pid and p.alive_pid(q)]
        if leftovers:
            time.sleep(0.5)
            for q in leftovers:
                if p.alive_pid(q):
                    log(f"{p.name}: child pid {q} still alive after stop: SIGKILL")
                    try:
                        os.kill(q, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
        if p in self.live:
            self.live.remove(p)

    def stop_all(self):
        for p in reversed(list(self.live)):
            try:
                self.stop(p, grace=3.0)
            except Exception as e:  # keep killing the others
                log(f"cleanup of {p.name} (pid {p.pid}): {e}")
                try:
                    os.kill(p.pid, signal.SIGKILL)
                except OSError:
                    pass


def reap_stale_runs(own_tmp):
    """Kill, by PID and start time, what an earlier runner that was SIGKILLed
    left behind (nginx workers survive their master), then remove its temp
    dir; refuse to run beside a live runner. A runner that ends normally
    renames its list to OWNED_FILE.done, so such runs are left alone."""
    base = os.path.dirname(own_tmp)
    for d in sorted(os.listdir(base)):
        tdir = os.path.join(base, d)
        path = os.path.join(tdir, OWNED_FILE)
        if not d.startswith("switchboard-bench.") or tdir == own_tmp or not os.path.exists(path):
            continue
        entries = []
        with open(path) as f:
            for line in f:
                pid, start, name = line.rstrip("\n").split(" ", 2)
                if start != "None":
                    entries.append((int(pid), int(start), name))
        alive = [(p, n) for p, s, n in entries
                 if (st := proc_stat_fields(p)) and st[2] == s and not Proc._zombie(p)]
        runner = [p for p, n in alive if n == "runner"]
        if runner:
            raise BenchError(f"another bench/run (pid {runner[0]}) is running; wait for it")
        for p, n in alive:
            log(f"killing pid {p} ({n}), left behind by a runner that was killed ({d})")
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 5
        while any(Proc.gone_or_zombie(p) is False for p, _n in alive) and time.monotonic() < deadline:
            time.sleep(0.05)
        shutil.rmtree(tdir, ignore_errors=True)


def wait_until(pred, timeout, what, proc=None, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        if proc is not None and not proc.alive():
            raise BenchError(f"{proc.name} exited (status {proc.popen.returncode}) while waiting "
                             f"for {what}:\n{proc.tail()}")
        time.sleep(interval)
    raise BenchError(f"timed out after {timeout}s waiting for {what}"
                     + (f":\n{proc.tail()}" if proc else ""))


# ------------------------------------------------------- foreign-CPU windows

def scan_processes():
    """pid -> (comm, ppid, starttime, ns on CPU) for every process."""
    out = {}
    for pid in all_pids():
        st = proc_stat_fields(pid)
        if st:
            out[pid] = (st[0], st[1], st[2], schedstat_ns(pid))
    return out


class Window:
    """Machine CPU during a measurement. foreign = non-idle time in /proc/stat
    minus what the known PIDs (schedstat), the load generator (wait4 rusage)
    and kernel threads used; reported as a fraction of one core."""

    def __init__(self):
        self.t0 = time.monotonic()
        self.busy0 = machine_busy_ticks()
        self.scan0 = scan_processes()

    def close(self, known_pids, extra_known_ns=0):
        busy1 = machine_busy_ticks()
        scan1 = scan_processes()
        wall_ns = (time.monotonic() - self.t0) * 1e9
        known = set(known_pids) | {os.getpid()}
        known_ns = kthread_ns = 0
        others = {}
        for pid, (comm, ppid, start, ns) in scan1.items():
            before = self.scan0.get(pid)
            delta = ns - before[3] if before and before[2] == start else ns
            if pid in known:
                known_ns += delta
            elif ppid == 2 or pid == 2:
                kthread_ns += delta
            elif delta > 0:
                others[f"{comm}[{pid}]"] = delta
        busy_ns = (busy1 - self.busy0) * 1e9 / CLK_TCK
        foreign_ns = max(0.0, busy_ns - known_ns - extra_known_ns - kthread_ns)
        top = sorted(others.items(), key=lambda kv: -kv[1])[:4]
        return {
            "foreign": foreign_ns / wall_ns,
            "foreign_scan": sum(others.values()) / wall_ns,
            "kthreads": kthread_ns / wall_ns,
            "top": ", ".join(f"{k} {v / 1e6:.0f} ms" for k, v in top if v > 1e6),
        }
