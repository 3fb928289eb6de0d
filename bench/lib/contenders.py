"""The contenders: their names and groups, how each is configured (the
switchboard, haproxy, nginx and dnsdist templates, the tuning: variants),
started, checked and stopped. A scenario may replace the configuration
(Scenario.contender_config)."""
import os
import subprocess
import time

from .common import BenchError, LOAD_CPU, PORT_ADMIN, PORT_FRONT, PROXY_CPU
from .net import listening, udp_bound
from .procs import wait_until

DEFAULT_CONTENDERS = ["switchboard", "switchboard-splice", "switchboard-copy", "haproxy", "nginx",
                      "dnsdist", "kamailio"]
# switchboard = the default relay (auto: copy small exchanges, splice bulk);
# -splice and -copy force one way (tuning.relay).
SUBJECTS = ("switchboard", "switchboard-splice", "switchboard-copy", "switchboard-2w-reuseport",
            "switchboard-2w-shared", "switchboard-checks1000", "switchboard-checks1000-fresh",
            "switchboard-nometrics", "switchboard-base")
# The default switchboard plus a second pool of 1000 servers, each checked
# over HTTP every second (at the scenario's backend), on the same CPU as the
# traffic: do health checks stall connections? (issue 4: p99 within 10%.)
# Its checks keep their connection (reuse-connection, the default);
# -checks1000-fresh opens a new one for every check, as haproxy does.
CHECKS_CONTENDER = "switchboard-checks1000"
CHECKS_FRESH = "switchboard-checks1000-fresh"
CHECKS_CONTENDERS = (CHECKS_CONTENDER, CHECKS_FRESH)
HAPROXY_CHECKS = "haproxy-checks1000"  # the same for haproxy: option httpchk, inter 1s
CHECKED_SERVERS = 1000
# Each checking contender and the same proxy without the checks: the report
# pairs their figures round by round (adjacent in time on a VM whose speed
# drifts between rounds).
CHECK_PAIRS = {CHECKS_CONTENDER: "switchboard", CHECKS_FRESH: "switchboard",
               HAPROXY_CHECKS: "haproxy"}
# The two event-loop models of docs/architecture.md, compared with 2 workers
# on both CPUs (the load still runs on CPU 0): one SO_REUSEPORT acceptor per
# worker, or one acceptor handing connections to the workers in turn.
IO_MODEL_CONTENDERS = ("switchboard-2w-reuseport", "switchboard-2w-shared")
# switchboard-nometrics: tuning.connection-metrics false, the per-connection updates
# only the metrics read (bytes, durations) skipped: their cost (issue 5: <= 3%).
# switchboard-base: the default configuration run by another build, the
# binary in $SWITCHBOARD_BASE_BIN (say, an older commit): is a change a
# regression? Both builds alternate in one run, like any two contenders.
KNOWN_CONTENDERS = DEFAULT_CONTENDERS + ["direct", *IO_MODEL_CONTENDERS, *CHECKS_CONTENDERS,
                                         HAPROXY_CHECKS, "switchboard-nometrics",
                                         "switchboard-base"]

# dnsdist answers DNS only: it takes part in dns-rr and in no other scenario;
# kamailio proxies SIP only: sip-calls.
DNS_ONLY = ("dnsdist",)
SIP_ONLY = ("kamailio",)
ONE_SCENARIO_ANCHORS = DNS_ONLY + SIP_ONLY

ANCHORS = ("haproxy", "nginx", HAPROXY_CHECKS, "dnsdist", "kamailio")


class Contender:
    def __init__(self, bench, name):
        self.bench, self.name = bench, name
        self.proc = None
        self.files = {}

    @property
    def is_proxy(self):
        return self.name != "direct"

    def command(self, backend_port):
        """(argv, env, check argv or None, description) for this contender."""
        b = self.bench
        # A scenario may configure the contender itself (smtp-relay: three
        # backends and an smtp listener; dns-rr: a DNS responder).
        custom = b.current_scenario.contender_config(self.name) if b.current_scenario else None
        d = os.path.join(b.tmp, f"{self.name}-{backend_port}")
        os.makedirs(d, exist_ok=True)
        os.chmod(d, 0o755)
        env = dict(os.environ)
        if self.name in SUBJECTS:
            conf = self.conf = os.path.join(d, "switchboard.yaml")
            io_model = self.name in IO_MODEL_CONTENDERS
            # The variants differ from the default in the configuration's
            # tuning: keys only (docs/configuration.md).
            tuning = TUNING.get(self.name, "")
            with open(conf, "w") as f:
                extra = (checked_pool(backend_port, reuse=self.name != CHECKS_FRESH)
                         if self.name in CHECKS_CONTENDERS else "")
                f.write((f"tuning: {{{tuning}}}\n" if tuning else "") + (
                    custom or SWITCHBOARD_CONF.format(
                        admin=PORT_ADMIN, backend=backend_port, front=PORT_FRONT,
                        workers=2 if io_model else 1, extra_pools=extra)))
            cpus = f"{LOAD_CPU},{PROXY_CPU}" if io_model else PROXY_CPU
            binary = b.base_bin if self.name == "switchboard-base" else b.switchboard_bin
            argv = ["taskset", "-c", cpus, binary, "run", "-c", conf]
            check = [binary, "check", "-c", conf]
            shown = (f"tuning: {{{tuning}}}; " if tuning else "") + " ".join(argv)
        elif self.name in ("haproxy", HAPROXY_CHECKS):
            conf = self.conf = os.path.join(d, "haproxy.cfg")
            with open(conf, "w") as f:
                text = custom or HAPROXY_CONF.format(backend=backend_port, front=PORT_FRONT)
                if self.name == HAPROXY_CHECKS:
                    # The 1000 check connections need descriptors too, under
                    # the same 20000-file limit.
                    text = text.replace("maxconn 9900", "maxconn 9400")
                    text += haproxy_checked_backend(backend_port)
                f.write(text)
            argv = ["taskset", "-c", PROXY_CPU, "haproxy", "-db", "-f", conf]
            check = ["haproxy", "-c", "-q", "-f", conf]
            shown = " ".join(argv)
        elif self.name == "nginx":
            conf = self.conf = os.path.join(d, "nginx.conf")
            with open(conf, "w") as f:
                # A scenario's own nginx configuration (http1-keepalive: the
                # http module) says @DIR@ where its pid and temp files go.
                f.write(custom.replace("@DIR@", d) if custom else
                        NGINX_STREAM_CONF.format(dir=d, backend=backend_port, front=PORT_FRONT))
            argv = ["taskset", "-c", PROXY_CPU, "nginx", "-p", d, "-c", conf,
                    "-e", os.path.join(d, "error.log")]
            check = ["nginx", "-t", "-q", "-p", d, "-c", conf, "-e", os.path.join(d, "error.log")]
            shown = " ".join(argv)
        elif self.name == "kamailio":
            if not custom:
                raise BenchError("kamailio needs a scenario that configures it (sip-calls)")
            conf = self.conf = os.path.join(d, "kamailio.cfg")
            # @RUN@ in the anchor's configuration: the directory of its
            # dispatcher.list, and kamailio's runtime directory (-Y).
            with open(conf, "w") as f:
                f.write(custom.replace("@RUN@", d))
            # As the configuration's header says: foreground (-DD) with its
            # UDP worker and timer processes forked, logs to stderr (-E);
            # 1 GiB shared memory, TLSF allocators (the reasons are there).
            opts = ["-m", "1024", "-M", "8", "-x", "tlsf", "-X", "tlsf", "-Y", d]
            argv = ["taskset", "-c", PROXY_CPU, "kamailio", "-DD", "-E", "-f", conf] + opts
            check = ["kamailio", "-c", "-f", conf] + opts
            shown = " ".join(argv)
        elif self.name == "dnsdist":
            if not custom:
                raise BenchError("dnsdist needs a scenario that configures it (dns-rr)")
            conf = self.conf = os.path.join(d, "dnsdist.conf")
            with open(conf, "w") as f:
                f.write(custom)
            # Foreground, no console, logs to stdout (our log file), not syslog.
            argv = ["taskset", "-c", PROXY_CPU, "dnsdist", "--supervised", "--disable-syslog",
                    "-C", conf]
            check = ["dnsdist", "--check-config", "-C", conf]
            shown = " ".join(argv)
        else:
            raise BenchError(f"unknown contender {self.name}")
        self.files = (b.current_scenario.contender_files(self.name)
                      if b.current_scenario else {})
        for fname, text in self.files.items():
            with open(os.path.join(d, fname), "w") as f:
                f.write(text)
        return argv, env, check, shown

    def start(self, backend_port):
        if not self.is_proxy:
            return
        b = self.bench
        argv, env, check, shown = self.command(backend_port)
        # Per scenario: two scenarios on the same backend port (smtp-relay,
        # smtp-inspect) configure the contender differently.
        scenario = b.current_scenario.name if b.current_scenario else ""
        key = (scenario, self.name, backend_port)
        if key not in b.checked:
            r = subprocess.run(check, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                               text=True, timeout=30)
            if r.returncode != 0:
                raise BenchError(f"{self.name}: configuration check failed ({' '.join(check)}):\n"
                                 f"{r.stdout}{r.stderr}")
            b.commands[f"{scenario} {self.name} {backend_port}"] = shown
            with open(self.conf) as f:
                b.configs[f"{scenario} {self.name} {backend_port}"] = f.read() + "".join(
                    f"\n---- {fname}, beside it:\n{text}" for fname, text in self.files.items())
            b.checked.add(key)
        port, tcp, udp = self.front()
        if (tcp and listening(port)) or (udp and udp_bound(port)):
            raise BenchError(f"port {port} is already in use before starting {self.name}")
        self.proc = b.procs.start(self.name, argv, env=env)
        if tcp:
            wait_until(lambda: listening(port), 15, f"{self.name} to listen on {port}", self.proc)
        if udp:
            wait_until(lambda: udp_bound(port), 15,
                       f"{self.name} to bind UDP port {port}", self.proc)
        if self.name in ("nginx", "kamailio"):  # the workers are children of the first
            wait_until(lambda: len(self.proc.tree()) >= 2, 10, f"the {self.name} worker",
                       self.proc)
        time.sleep(0.3)  # let it finish starting (workers, timers) before measuring
        if not self.proc.alive():
            raise BenchError(f"{self.name} exited right after start:\n{self.proc.tail()}")

    def front(self):
        """(port, TCP?, UDP?): where the current scenario's contenders listen."""
        sc = self.bench.current_scenario
        if sc is None:
            return PORT_FRONT, True, False
        return sc.front_port, sc.front_tcp, sc.front_udp

    def pids(self):
        return self.proc.tree() if self.proc else []

    def stop(self):
        if self.proc:
            self.bench.procs.stop(self.proc)
            tail = self.proc.tail(5)
            self.proc = None
            port, tcp, udp = self.front()
            if tcp:
                wait_until(lambda: not listening(port), 10, f"{self.name} to release port {port}")
            if udp:
                wait_until(lambda: not udp_bound(port), 10,
                           f"{self.name} to release UDP port {port}")
            return tail
        return ""

    def port(self, backend_port):
        return self.front()[0] if self.is_proxy else backend_port


# The contenders that differ from the default configuration in tuning: only.
TUNING = {"switchboard-copy": "relay: copy", "switchboard-splice": "relay: splice",
          "switchboard-2w-shared": "accept: shared",
          "switchboard-nometrics": "connection-metrics: false"}

SWITCHBOARD_CONF = """\
# written by bench/run
workers: {workers}
shutdown-grace: 1s
log: {{level: warn, access: false}}
admin:
  listen: 127.0.0.1:{admin}
pools:
  bench:
    balance: round-robin
    connect-timeout: 5s
    health: {{check: none}}
    servers:
      - {{address: 127.0.0.1:{backend}, name: backend}}
{extra_pools}listeners:
  bench-vip:
    listen: ["127.0.0.1:{front}"]
    protocol: tcp
    pool: bench
    idle-timeout: 10m
    # Like the anchors' 10m client timeouts: the default (30s) would close
    # load-bounded's idle connections, which never send, halfway through.
    client-first-byte-timeout: 10m
    max-connections: 20000
"""

def checked_pool(backend_port, reuse=True):
    """A pool with no listener: only its health checks run, as a second load."""
    servers = "".join(f"      - {{address: 127.0.0.1:{backend_port}, name: c{i}}}\n"
                      for i in range(CHECKED_SERVERS))
    reuse_key = "" if reuse else ", reuse-connection: false"
    return f"""\
  checked:
    health: {{check: http, path: /hc, interval: 1s, timeout: 2s{reuse_key}}}
    servers:
{servers}"""


def haproxy_checked_backend(backend_port):
    servers = "".join(f"    server c{i} 127.0.0.1:{backend_port} check inter 1s\n"
                      for i in range(CHECKED_SERVERS))
    return f"""
backend checked
    timeout check 2s
    option httpchk GET /hc
{servers}"""


HAPROXY_CONF = """\
# written by bench/run
global
    nbthread 1
    # maxconn 20000 needs 40014 descriptors and haproxy refuses to start under
    # the 20000-file limit ("Cannot raise FD limit"); 9900 proxied connections
    # (2 descriptors each) is the most that fits, as for the other contenders.
    maxconn 9900

defaults
    mode tcp
    timeout connect 5s
    timeout client 10m
    timeout server 10m

frontend bench_vip
    bind 127.0.0.1:{front}
    default_backend bench

backend bench
    server backend 127.0.0.1:{backend}
"""

NGINX_STREAM_CONF = """\
# written by bench/run
load_module /usr/lib/nginx/modules/ngx_stream_module.so;
daemon off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 20000; }}
stream {{
    server {{
        listen 127.0.0.1:{front};
        proxy_pass 127.0.0.1:{backend};
        proxy_connect_timeout 5s;
        proxy_timeout 10m;
    }}
}}
"""
