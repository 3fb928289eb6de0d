"""What every part of the runner shares: paths, the fixed ports, the CPU
split between proxy and load, log() and the runner's exceptions."""
import os
import signal
import sys
import time

BENCH_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROOT = os.path.dirname(BENCH_DIR)
IDLE_HELPER = os.path.join(BENCH_DIR, "lib", "idle_conns.py")
DEFAULT_BIN = os.path.join(ROOT, "build", "switchboard")

# Fixed bench ports, below the ephemeral range (checked at start).
PORT_FRONT = 20001   # every contender listens here (dns-rr: UDP and TCP)
PORT_ADMIN = 20002   # switchboard admin
PORT_IPERF = 20010   # tcp-bulk backend (iperf3 -s)
PORT_HTTP = 20011    # tcp-connrate backend (nginx, 16-byte file)
PORT_HOLD = 20012    # idle-memory backend (accepts and holds)
PORT_SMTP = (20013, 20014, 20015)  # smtp-relay backends (smtp-sink)
PORT_WEB = (20016, 20017, 20018)   # http1-keepalive, http1-tls: the pool of three (one nginx)
PORT_WEB_TLS = 20019               # the same nginx over TLS: http1-tls --contenders direct
# sip-calls (UDP): the ports of the kamailio anchor's configuration, taken as
# it is (/work/shared/bench-anchors/sip-calls.cfg): the proxy on 25060, the
# two sipp UAS on 15061/15062; the sipp UAC sends from 20020, and each sipp's
# control socket (default 0.0.0.0:8888, shared) gets one of 20021-20023.
PORT_SIP = 25060
PORT_SIP_UAS = (15061, 15062)
PORT_SIP_UAC = 20020
PORT_SIP_CTRL = (20021, 20022, 20023)
ALL_PORTS = (PORT_FRONT, PORT_ADMIN, PORT_IPERF, PORT_HTTP, PORT_HOLD, *PORT_SMTP, *PORT_WEB,
             PORT_WEB_TLS, PORT_SIP, *PORT_SIP_UAS, PORT_SIP_UAC, *PORT_SIP_CTRL)

PROXY_CPU = "1"      # taskset -c for the proxy
LOAD_CPU = "0"       # taskset -c for load generators and backends
FOREIGN_LIMIT = 0.05  # of one core


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class BenchError(Exception):
    pass


class Interrupted(BaseException):
    pass


def _on_signal(signum, _frame):
    raise Interrupted(signal.Signals(signum).name)


def switchboard_head(scenario):
    """The first lines of every scenario's switchboard configuration: one
    worker, quiet logs, the admin port (the pools and listeners follow)."""
    return (f"# written by bench/run ({scenario})\n"
            "workers: 1\n"
            "shutdown-grace: 1s\n"
            "log: {level: warn, access: false}\n"
            "admin:\n"
            f"  listen: 127.0.0.1:{PORT_ADMIN}\n")
