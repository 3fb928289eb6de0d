"""Helpers for integration tests: real programs on loopback, ports chosen at
run time, every wait bounded, everything started is killed by PID.

Standard library only. Tests find the binary in $SWITCHBOARD_BIN and the
source tree in $SB_SOURCE_DIR (set by CTest)."""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import textwrap
import time
import unittest

SWITCHBOARD = os.environ.get("SWITCHBOARD_BIN", "build/switchboard")
SOURCE_DIR = os.environ.get("SB_SOURCE_DIR", ".")


def free_port(host="127.0.0.1"):
    """A TCP port that nothing listens on right now (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout=10.0, interval=0.02, what="condition"):
    """Polls `predicate` until it is truthy; fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def can_connect(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


class Processes:
    """Starts programs and kills them (by PID) when the test ends."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.procs = []

    def start(self, args, name, **kwargs):
        log = open(os.path.join(self.workdir, f"{name}.log"), "wb")
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, cwd=self.workdir, **kwargs)
        proc.log_path = log.name
        proc.log_file = log
        self.procs.append(proc)
        return proc

    def stop_all(self):
        """SIGTERM first (a clean exit lets sanitizers report), SIGKILL after 5s."""
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
        for proc in reversed(self.procs):
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
            proc.log_file.close()

    def sanitizer_reports(self):
        """Sanitizer findings in any log of a process we started."""
        found = []
        for proc in self.procs:
            with open(proc.log_path, "rb") as f:
                text = f.read().decode(errors="replace")
            for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
                if marker in text:
                    found.append(f"{proc.log_path}: {marker}")
        return found


def read_log(proc):
    proc.log_file.flush()
    with open(proc.log_path, "rb") as f:
        return f.read().decode(errors="replace")


class Nginx:
    """An nginx that answers its own name on each of the given servers.

    servers: list of dicts {name, port, proxy_protocol (bool), root (optional),
    status (optional, default 200), tls (optional {cert, key}: HTTPS)}. Each server
    logs "$proxy_protocol_addr:$proxy_protocol_port $remote_addr" to
    <workdir>/<name>.access for servers that take PROXY headers."""

    def __init__(self, procs, workdir, servers, tag="nginx"):
        self.workdir = workdir
        self.servers = servers
        blocks = []
        for s in servers:
            pp = " proxy_protocol" if s.get("proxy_protocol") else ""
            tls = ""
            if s.get("tls"):  # {"cert": path, "key": path}
                pp += " ssl"
                tls = (f"ssl_certificate {s['tls']['cert']}; "
                       f"ssl_certificate_key {s['tls']['key']};")
            # "root": serve files from that directory instead of the name.
            status = s.get("status", 200)
            body = f"root {s['root']};" if s.get("root") else \
                f'return {status} "{s["name"]}\\n";'

            blocks.append(textwrap.dedent(f"""\
                server {{
                    listen 127.0.0.1:{s['port']}{pp};
                    access_log {workdir}/{s['name']}.access who;
                    {tls}
                    location / {{ {body} }}
                }}"""))
        temp = os.path.join(workdir, f"{tag}-temp")
        os.makedirs(temp, exist_ok=True)
        conf = textwrap.dedent("""\
            daemon off;
            master_process off;
            worker_processes 1;
            pid {wd}/{tag}.pid;
            error_log {wd}/{tag}.error warn;
            events {{ worker_connections 1024; }}
            http {{
                client_body_temp_path {t}/body;
                proxy_temp_path {t}/proxy;
                fastcgi_temp_path {t}/fastcgi;
                uwsgi_temp_path {t}/uwsgi;
                scgi_temp_path {t}/scgi;
                log_format who '$proxy_protocol_addr:$proxy_protocol_port $remote_addr';
                keepalive_timeout 60s;
            {blocks}
            }}
            """).format(wd=workdir, t=temp, tag=tag, blocks=textwrap.indent("\n".join(blocks), "    "))
        path = os.path.join(workdir, f"{tag}.conf")
        with open(path, "w") as f:
            f.write(conf)
        self.proc = procs.start(["nginx", "-c", path, "-e", f"{workdir}/{tag}.error"], tag)
        for s in servers:
            wait_until(lambda: can_connect(s["port"]) or self.proc.poll() is not None,
                       what=f"nginx on {s['port']}")
            if self.proc.poll() is not None:
                raise AssertionError("nginx exited:\n" + read_log(self.proc) +
                                     open(f"{workdir}/{tag}.error").read())

    def access_log(self, name):
        path = os.path.join(self.workdir, f"{name}.access")
        if not os.path.exists(path):
            return ""
        with open(path) as f:
            return f.read()


class Switchboard:
    """switchboard run -c <yaml> in the foreground, waiting until it listens."""

    def __init__(self, procs, workdir, yaml_text, wait_ports=(), name="switchboard", env=None):
        self.path = os.path.join(workdir, f"{name}.yaml")
        with open(self.path, "w") as f:
            f.write(textwrap.dedent(yaml_text))
        self.proc = procs.start([SWITCHBOARD, "run", "-c", self.path], name,
                                env=dict(os.environ, **(env or {})))
        for port in wait_ports:
            wait_until(lambda: can_connect(port) or self.proc.poll() is not None,
                       what=f"switchboard on {port}")
            if self.proc.poll() is not None:
                raise AssertionError(f"switchboard exited {self.proc.returncode}:\n" +
                                     read_log(self.proc))

    def log(self):
        return read_log(self.proc)

    def stop(self, sig=signal.SIGTERM, timeout=15):
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=timeout)


def one_pool_config(port, admin, servers_yaml, pool_lines="", top_lines="", pool="p",
                    admin_extra=""):
    """The YAML of one worker, one pool and one tcp listener on `port`: what
    most integration tests run. `pool_lines` are the pool's keys (4 spaces
    in), `servers_yaml` its server list items (6 spaces in); `admin_extra`
    more admin keys (", token-file: F")."""
    return f"""\
workers: 1
admin: {{listen: 127.0.0.1:{admin}{admin_extra}}}
{top_lines}
pools:
  {pool}:
{pool_lines}
    servers:
{servers_yaml}
listeners:
  vip:
    listen: ["127.0.0.1:{port}"]
    pool: {pool}
"""


def servers_yaml(servers):
    """List items for servers given as {name, port} dicts."""
    return "\n".join(f"      - {{address: 127.0.0.1:{s['port']}, name: {s['name']}}}"
                     for s in servers)


def http_get(port, host="127.0.0.1", interface=None, timeout=5):
    """curl through the proxy; returns (exit code, body)."""
    args = ["curl", "-s", "--max-time", str(timeout), "-o", "-"]
    if interface:
        args += ["--interface", interface]
    args.append(f"http://{host}:{port}/")
    r = subprocess.run(args, capture_output=True, timeout=timeout + 5)
    return r.returncode, r.stdout.decode(errors="replace").strip()


def closed_within(sock, seconds):
    """True when the peer closes `sock` (EOF or reset) within `seconds`."""
    sock.settimeout(seconds)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def self_signed_certificate(workdir, name="localhost"):
    """A throwaway key and certificate made with the openssl command."""
    cert = os.path.join(workdir, f"{name}.crt")
    key = os.path.join(workdir, f"{name}.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", f"/CN={name}", "-keyout", key, "-out", cert],
                   check=True, capture_output=True, timeout=60)
    return {"cert": cert, "key": key}


class SmtpSink:
    """Postfix's smtp-sink on a loopback port. `args` such as ["-Q", "CONNECT"]
    (a 421 greeting) make it a failing server."""

    def __init__(self, procs, port=None, args=(), name="smtp-sink"):
        self.port = port or free_port()
        self.proc = procs.start(["smtp-sink", "-u", "nobody", *args, f"127.0.0.1:{self.port}",
                                 "100"], f"{name}-{self.port}")
        wait_until(lambda: can_connect(self.port) or self.proc.poll() is not None,
                   what=f"smtp-sink on {self.port}")
        if self.proc.poll() is not None:
            raise AssertionError("smtp-sink exited:\n" + read_log(self.proc))

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


class EchoServer:
    """A TCP echo peer in a thread: writes back every byte it reads, and
    half-closes when its client does. For byte-exact relay checks."""

    def __init__(self):
        import threading
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        import threading
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._echo, args=(conn,), daemon=True).start()

    @staticmethod
    def _echo(conn):
        with conn:
            while True:
                data = conn.recv(65536)
                if not data:
                    conn.shutdown(socket.SHUT_WR)
                    return
                conn.sendall(data)

    def close(self):
        self.listener.close()


class BlackholePort:
    """A port whose SYNs go unanswered: a listening socket that never accepts,
    with its accept queue filled so that the kernel drops further SYNs, so a
    connect to it times out (a server that has hung)."""

    def __init__(self):
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(0)
        self.port = self.listener.getsockname()[1]
        self.fillers = []
        for _ in range(3):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            try:
                s.connect(("127.0.0.1", self.port))
            except BlockingIOError:
                pass
            self.fillers.append(s)
        time.sleep(0.2)

    def close(self):
        for s in self.fillers:
            s.close()
        self.listener.close()


class IntegrationTest(unittest.TestCase):
    """Gives each test a temp dir and a process list that is cleaned up."""

    def setUp(self):
        if not os.path.exists(SWITCHBOARD):
            self.fail(f"switchboard binary not found at {SWITCHBOARD}")
        self.workdir = tempfile.mkdtemp(prefix="sbtest-")
        self.procs = Processes(self.workdir)

    def tearDown(self):
        self.procs.stop_all()
        reports = self.procs.sanitizer_reports()
        self.procs.procs.clear()
        if reports:
            print(f"\n(kept {self.workdir})")
            self.fail("sanitizer reports:\n" + "\n".join(reports))
        failed = any(err for _, err in getattr(self._outcome, "errors", []) if err) \
            if hasattr(self, "_outcome") else False
        if failed or os.environ.get("SB_KEEP_TMP"):
            print(f"\n(kept {self.workdir})")
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)
