"""Helpers for integration tests: real programs on loopback, ports chosen at
run time, every wait bounded, everything started is killed by PID.

Standard library only. Tests find the binary in $SWITCHBOARD_BIN and the
source tree in $SB_SOURCE_DIR (set by CTest)."""

import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import textwrap
import time
import unittest
import urllib.error
import urllib.request

SWITCHBOARD = os.environ.get("SWITCHBOARD_BIN", "build/switchboard")
SOURCE_DIR = os.environ.get("SB_SOURCE_DIR", ".")


# Ports handed out by free_port in this process. The kernel's own choice
# (bind to port 0) can repeat a port it just gave out once the probe socket is
# closed, so two calls in a row could name the same port for a listener and the
# admin server (a CI run failed that way).
_handed_out = set()
_port_rng = random.Random()


def free_port(host="127.0.0.1"):
    """A TCP port that nothing listens on right now and that this process has not
    handed out before. Chosen above bench/run's fixed ports (20001-20012) and
    below the kernel's ephemeral range (32768 and up by default), so that an
    outgoing connection's source port cannot take it meanwhile."""
    for _ in range(1000):
        port = _port_rng.randrange(20100, 32768)
        if port in _handed_out:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise AssertionError("no free TCP port between 20100 and 32767")


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


def free_port_tcp_udp(host="127.0.0.1"):
    """A port free for both TCP and UDP (DNS and SIP servers take both)."""
    for _ in range(100):
        port = free_port(host)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            try:
                s.bind((host, port))
                return port
            except OSError:
                continue
    raise AssertionError("no port free for both TCP and UDP")


def tcp_listening(port):
    """True when some IPv4 socket listens on `port`, seen without connecting
    (a probe connection would show up in the peer's log)."""
    with open("/proc/net/tcp") as f:
        next(f)
        return any(int(cols[1].split(":")[1], 16) == port and cols[3] == "0A"
                   for cols in (line.split() for line in f))


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
        self.cleanups = []  # for daemons that are not our children (Postfix)

    def start(self, args, name, **kwargs):
        log = open(os.path.join(self.workdir, f"{name}.log"), "wb")
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, cwd=self.workdir, **kwargs)
        proc.log_path = log.name
        proc.log_file = log
        self.procs.append(proc)
        return proc

    def on_stop(self, fn):
        """Calls `fn` in stop_all (before the children are signalled)."""
        self.cleanups.append(fn)

    def stop_all(self):
        """SIGTERM first (a clean exit lets sanitizers report), SIGKILL after 5s."""
        for fn in reversed(self.cleanups):
            try:
                fn()
            except Exception as e:  # must not keep the children below alive
                print(f"\ncleanup {fn} failed: {e!r}")
        self.cleanups.clear()
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

    # UBSan's vptr check reads the object through a pipe it opens
    # (sanitizer_common's IsAccessibleMemoryRange). Out of descriptors, the
    # pipe fails and a valid object is reported as "invalid vptr" with
    # "<memory cannot be printed>": a limit of the sanitizer, not a finding.
    # Only a test that exhausts descriptors on purpose sets
    # `out_of_descriptors_on_purpose`.
    VPTR_UNREADABLE = re.compile(
        r"[^\n]*runtime error: member (?:call on|access within) address 0x[0-9a-f]+ which does "
        r"not point to an object of type '[^']*'\n0x[0-9a-f]+: note: object has invalid vptr\n"
        r"<memory cannot be printed>\n")
    out_of_descriptors_on_purpose = False

    def sanitizer_reports(self):
        """Sanitizer findings in any log of a process we started."""
        found = []
        for proc in self.procs:
            with open(proc.log_path, "rb") as f:
                text = f.read().decode(errors="replace")
            if self.out_of_descriptors_on_purpose:
                text = self.VPTR_UNREADABLE.sub("", text)
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
    status (optional, default 200), tls (optional {cert, key}: HTTPS), extra
    (optional: more directives for the server block), locations (optional:
    location blocks in place of the default `location /`)}. Each server logs
    "$proxy_protocol_addr:$proxy_protocol_port $remote_addr" to
    <workdir>/<name>.access for servers that take PROXY headers, and
    "$connection $connection_requests $request" to <workdir>/<name>.conns
    (which connection carried each request)."""

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
                    access_log {workdir}/{s['name']}.conns conns;
                    {tls} {s.get('extra', '')}
                    {s.get('locations') or f"location / {{ {body} }}"}
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
                log_format conns '$connection $connection_requests $request';
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

    def access_log(self, name, kind="access"):
        path = os.path.join(self.workdir, f"{name}.{kind}")
        if not os.path.exists(path):
            return ""
        with open(path) as f:
            return f.read()

    def connections(self, name):
        """[(connection serial, requests on it so far)] per request, in order."""
        return [(int(c), int(n)) for c, n, *_ in
                (line.split() for line in self.access_log(name, "conns").splitlines())]


def serve_file(procs, workdir, name, data):
    """An nginx serving `data` as /NAME from a directory of its own; its port."""
    root = os.path.join(workdir, "www")
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, name), "wb") as f:
        f.write(data)
    port = free_port()
    Nginx(procs, workdir, [{"name": "files", "port": port, "root": root}])
    return port


def sanitizer_env():
    """os.environ for a switchboard run, with a small AddressSanitizer
    quarantine. Freed memory waits in the quarantine (256 MiB by default)
    before it is reused, so with the default the memory-bound tests would
    measure the sanitizer; 16 MiB still catches a use of what was just
    freed. Ignored by a build without the sanitizer."""
    env = dict(os.environ)
    options = env.get("ASAN_OPTIONS", "")
    if "quarantine_size_mb" not in options:
        env["ASAN_OPTIONS"] = ":".join(filter(None, [options, "quarantine_size_mb=16"]))
    return env


class Switchboard:
    """switchboard run -c <yaml> in the foreground, waiting until it listens."""

    def __init__(self, procs, workdir, yaml_text, wait_ports=(), name="switchboard", env=None,
                 prefix=()):
        """`prefix`: a command that execs switchboard (e.g. prlimit)."""
        self.path = os.path.join(workdir, f"{name}.yaml")
        with open(self.path, "w") as f:
            f.write(textwrap.dedent(yaml_text))
        self.proc = procs.start([*prefix, SWITCHBOARD, "run", "-c", self.path], name,
                                env=dict(sanitizer_env(), **(env or {})))
        for port in wait_ports:
            wait_until(lambda: can_connect(port) or self.proc.poll() is not None,
                       what=f"switchboard on {port}")
            if self.proc.poll() is not None:
                raise AssertionError(f"switchboard exited {self.proc.returncode}:\n" +
                                     read_log(self.proc))

    def log(self, settle=0.1, limit=2.0):
        """The log so far. switchboard writes its log from a thread of its
        own (a worker never waits for stderr), a moment after the event:
        wait until the file has not grown for `settle` seconds (at most
        `limit`), so that what just happened is in it."""
        deadline = time.monotonic() + limit
        size = -1
        while time.monotonic() < deadline:
            now = os.path.getsize(self.proc.log_path)
            if now == size:
                break
            size = now
            time.sleep(settle)
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


def admin_call(admin_port, method, path, token=None, timeout=10):
    """One admin API request; returns (status, parsed JSON body or None)."""
    req = urllib.request.Request(f"http://127.0.0.1:{admin_port}{path}", method=method)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def healthz(admin_port, timeout=5):
    """GET /healthz on a new connection: (status, body), or (None, "") when
    the connection fails."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/healthz",
                                    timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except (OSError, http.client.HTTPException):
        return None, ""


def wait_for_log(sb, text, timeout=10, count=1):
    """Waits until `text` stands in the switchboard's log at least `count`
    times (its log writer is a thread of its own); returns the log."""
    wait_until(lambda: sb.log(settle=0.05).count(text) >= count, timeout=timeout,
               what=f"{text!r} in the log")
    return sb.log()


def metric_value(admin_port, series):
    """The value of one series (`name{labels}` exactly as exported) from
    /metrics, or None when it is not there."""
    with urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/metrics", timeout=10) as r:
        text = r.read().decode()
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.split()[-1])
    return None


def http_get(port, host="127.0.0.1", interface=None, timeout=5):
    """curl through the proxy; returns (exit code, body)."""
    args = ["curl", "-s", "--max-time", str(timeout), "-o", "-"]
    if interface:
        args += ["--interface", interface]
    args.append(f"http://{host}:{port}/")
    r = subprocess.run(args, capture_output=True, timeout=timeout + 5)
    return r.returncode, r.stdout.decode(errors="replace").strip()


def start_with_few_descriptors(procs, workdir, port, admin, server_port, nofile=64):
    """switchboard under `prlimit --nofile=N:N` with one worker, one pool (the
    server on `server_port`, unchecked) and one tcp listener on `port`: a few
    dozen held connections exhaust its descriptors. Returns the process."""
    path = os.path.join(workdir, "fd.yaml")
    with open(path, "w") as f:
        f.write(textwrap.dedent(f"""\
            workers: 1
            admin: {{listen: 127.0.0.1:{admin}}}
            pools:
              web:
                health: {{check: none}}
                servers: [{{address: "127.0.0.1:{server_port}"}}]
            listeners:
              vip:
                listen: ["127.0.0.1:{port}"]
                pool: web
            """))
    # UBSan's vptr check proves an object's vtable readable by writing it
    # into a pipe; with no descriptor left the pipe fails and it reports a
    # valid object (a log line's fmt buffer) as one with an invalid vptr.
    # The suppression below covers the reports that still name the type;
    # those that cannot are dropped by Processes.VPTR_UNREADABLE. Every
    # other report still fails the test.
    procs.out_of_descriptors_on_purpose = True
    suppressions = os.path.join(workdir, "ubsan-fd.supp")
    with open(suppressions, "w") as f:
        f.write("vptr_check:*\n")
    env = sanitizer_env()
    env["UBSAN_OPTIONS"] = ":".join(filter(None, [env.get("UBSAN_OPTIONS", ""),
                                                  f"suppressions={suppressions}"]))
    return procs.start(["prlimit", f"--nofile={nofile}:{nofile}", SWITCHBOARD, "run", "-c",
                        path], "switchboard-fd", env=env)


def cpu_seconds_used_in(pid, seconds=1.0):
    """User plus system CPU time a process uses in the next `seconds`."""
    def used():
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    before = used()
    time.sleep(seconds)
    return used() - before


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


class Dovecot:
    """A private Dovecot that only authenticates (no mail protocols): its
    auth socket `socket` serves a Postfix's SASL (smtpd_sasl_type =
    dovecot), with PLAIN and LOGIN against `users` {name: password}."""

    def __init__(self, procs, workdir, users, name="dovecot"):
        self.dir = tempfile.mkdtemp(prefix=f"{name}-", dir=workdir)
        os.chmod(workdir, os.stat(workdir).st_mode | 0o011)
        os.chmod(self.dir, 0o755)
        for sub in ("run", "state"):
            os.makedirs(os.path.join(self.dir, sub))
        self.socket = os.path.join(self.dir, "auth")
        passwd = os.path.join(self.dir, "users")
        with open(passwd, "w") as f:
            f.writelines(f"{u}:{{PLAIN}}{p}\n" for u, p in users.items())
        conf = os.path.join(self.dir, "dovecot.conf")
        with open(conf, "w") as f:
            f.write(textwrap.dedent(f"""\
                base_dir = {self.dir}/run
                state_dir = {self.dir}/state
                log_path = {self.dir}/dovecot.log
                protocols =
                ssl = no
                disable_plaintext_auth = no
                auth_mechanisms = plain login
                passdb {{
                  driver = passwd-file
                  args = scheme=PLAIN username_format=%u {passwd}
                }}
                userdb {{
                  driver = static
                  args = uid=nobody gid=nogroup home={self.dir}
                }}
                service auth {{
                  unix_listener auth-postfix {{
                    path = {self.socket}
                    mode = 0666
                  }}
                }}
                service anvil {{
                  chroot =
                }}
                """))
        # -F: in the foreground, a child of procs (killed by PID).
        self.proc = procs.start(["dovecot", "-c", conf, "-F"], name)
        wait_until(lambda: os.path.exists(self.socket) or self.proc.poll() is not None,
                   what="dovecot's auth socket")
        if self.proc.poll() is not None:
            raise AssertionError("dovecot exited:\n" + read_log(self.proc))

    def postfix_main_cf(self):
        """main.cf lines for a PostfixInstance that authenticates with it."""
        return ["smtpd_sasl_auth_enable = yes", "smtpd_sasl_type = dovecot",
                f"smtpd_sasl_path = {self.socket}"]


def client_certificate(workdir, name="client"):
    """A throwaway CA and a client certificate it signed: {ca, cert, key}."""
    ca = self_signed_certificate(workdir, f"{name}-ca")
    key = os.path.join(workdir, f"{name}.key")
    csr = os.path.join(workdir, f"{name}.csr")
    cert = os.path.join(workdir, f"{name}.crt")
    subprocess.run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}",
                    "-keyout", key, "-out", csr], check=True, capture_output=True, timeout=60)
    subprocess.run(["openssl", "x509", "-req", "-in", csr, "-CA", ca["cert"], "-CAkey", ca["key"],
                    "-CAcreateserial", "-days", "2", "-out", cert],
                   check=True, capture_output=True, timeout=60)
    return {"ca": ca["cert"], "cert": cert, "key": key}


class SmtpSink:
    """Postfix's smtp-sink on a loopback port. `args` such as ["-Q", "CONNECT"]
    (a 421 greeting) make it a failing server.

    dump_dir: smtp-sink writes each transaction to a file of its own there
    (-d); dumps() reads them back. It writes one for every DATA it got,
    whatever it answered (also with -q . or -f .), and a dump of a sink killed
    mid-message is cut short. Given again to a new SmtpSink on the same port
    (a restart), the files stay."""

    def __init__(self, procs, port=None, args=(), name="smtp-sink", host="127.0.0.1",
                 dump_dir=None):
        self.port = port or free_port(host)
        self.host = host
        self.dump_dir = dump_dir
        if dump_dir:
            # smtp-sink runs as nobody: it must reach and write the folder
            # (mkdtemp made the test's workdir 0700).
            parent = os.path.dirname(os.path.abspath(dump_dir))
            os.chmod(parent, os.stat(parent).st_mode | 0o011)
            os.makedirs(dump_dir, exist_ok=True)
            os.chmod(dump_dir, 0o777)
            args = [*args, "-d", os.path.join(dump_dir, "%H%M%S.")]
        self.proc = procs.start(["smtp-sink", "-u", "nobody", *args, f"{host}:{self.port}",
                                 "100"], f"{name}-{self.port}")
        wait_until(lambda: can_connect(self.port, host) or self.proc.poll() is not None,
                   what=f"smtp-sink on {host}:{self.port}")
        if self.proc.poll() is not None:
            raise AssertionError("smtp-sink exited:\n" + read_log(self.proc))

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)

    def dumps(self):
        """[SinkDump] of the files in dump_dir, oldest first."""
        paths = sorted((os.path.join(self.dump_dir, n) for n in os.listdir(self.dump_dir)),
                       key=os.path.getmtime)
        out = []
        for path in paths:
            with open(path, "rb") as f:
                out.append(SinkDump(f.read()))
        return out


class SinkDump:
    """One smtp-sink dump file: `envelope` [(name, value)] of the headers it
    adds (X-Mail-Args, X-Rcpt-Args, ...), `message` the message as it got it,
    after undoing dot-stuffing, with each CRLF turned into LF. smtp-sink ends
    a complete dump with an empty line (`complete`); a cut one lacks it unless
    cut right after an empty line of the message: compare `message` to be
    sure."""

    def __init__(self, data):
        self.data = data
        self.envelope = []
        rest = data
        # The added headers end with a three-line Received header.
        while rest.startswith(b"X-"):
            line, _, rest = rest.partition(b"\n")
            name, _, value = line.decode("latin-1").partition(": ")
            self.envelope.append((name, value))
        if rest.startswith(b"Received: "):
            rest = rest.split(b"\n", 3)[3] if rest.count(b"\n") >= 3 else b""
        self.complete = rest.endswith(b"\n\n") or rest == b"\n"
        self.message = rest[:-1] if self.complete else rest

    def all(self, name):
        return [v for n, v in self.envelope if n == name]


def dot_stuff(message):
    """A message (CRLF lines) as DATA carries it: a line that starts with "."
    gets another one, and the ".\r\n" that ends it follows (RFC 5321 4.5.2)."""
    if message and not message.endswith(b"\r\n"):
        message += b"\r\n"
    stuffed = b"\r\n".join(b"." + line if line.startswith(b".") else line
                            for line in message.split(b"\r\n"))
    return stuffed + b".\r\n"


class SmtpClient:
    """A raw SMTP client: sends lines exactly as given and reads replies
    (multi-line ones whole), for dialogues smtplib would not hold (commands
    out of order, over-long lines, pipelined commands, bytes it would alter)."""

    def __init__(self, port, host="127.0.0.1", timeout=30):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.reader = SocketReader(self.sock)

    def reply(self):
        """The next reply: (code, text), text all its lines joined by "\n"."""
        lines = []
        while True:
            line = self.reader.until(b"\r\n", limit=64 * 1024)[:-2].decode("latin-1")
            lines.append(line)
            if line[3:4] != "-":
                break
        return int(lines[-1][:3]), "\n".join(lines)

    def command(self, line):
        """Sends `line` (str or bytes) with CRLF; returns its reply."""
        self.send((line.encode("latin-1") if isinstance(line, str) else line) + b"\r\n")
        return self.reply()

    def send(self, data):
        self.sock.sendall(data)

    def closed(self, seconds=2):
        return closed_within(self.sock, seconds)

    def close(self):
        self.sock.close()


class PostfixInstance:
    """A private Postfix: its own config, queue, data dir and log under
    <workdir>/<name>-XXXX; smtpd on 127.0.0.1:port only. It accepts mail
    from 127.0.0.0/8 for any domain and discards it (default_transport =
    discard), so nothing leaves the host; maillog() still shows each client
    ("connect from unknown[127.0.0.7]") and message ("postfix/discard ...
    status=sent").

    tls: {cert, key} (from self_signed_certificate) offers STARTTLS.
    upstream_proxy="haproxy": smtpd expects a PROXY header (v1 or v2) first.
    main_cf: further main.cf lines ("smtpd_authorized_xclient_hosts = ...").
    Postfix daemonizes, so it is no child of `procs`: stop() is registered
    with procs.on_stop, and may be called any number of times."""

    # Only the services that receive and discard mail. No chroot (5th column
    # "n"): a jail in the queue would need copies of /etc files.
    MASTER_CF = """\
        127.0.0.1:{port} inet n - n - - smtpd
        cleanup   unix  n - n - 0 cleanup
        qmgr      unix  n - n 300 1 qmgr
        tlsmgr    unix  - - n 1000? 1 tlsmgr
        rewrite   unix  - - n - - trivial-rewrite
        bounce    unix  - - n - 0 bounce
        defer     unix  - - n - 0 bounce
        trace     unix  - - n - 0 bounce
        verify    unix  - - n - 1 verify
        flush     unix  n - n 1000? 0 flush
        proxymap  unix  - - n - - proxymap
        anvil     unix  - - n - 1 anvil
        error     unix  - - n - - error
        retry     unix  - - n - - error
        discard   unix  - - n - - discard
        postlog   unix-dgram n - n - 1 postlogd
        """

    def __init__(self, procs, workdir, port=None, tls=None, upstream_proxy=None,
                 name="postfix", main_cf=()):
        if upstream_proxy not in (None, "haproxy"):
            raise ValueError(f"upstream_proxy {upstream_proxy!r}")
        self.port = port or free_port()
        self.dir = tempfile.mkdtemp(prefix=f"{name}-", dir=workdir)
        # master opens data/master.lock as user postfix, who must be able to
        # walk down to it: mkdtemp made the test's workdir 0700, add o+x/g+x.
        os.chmod(workdir, os.stat(workdir).st_mode | 0o011)
        os.chmod(self.dir, 0o755)
        self.config = os.path.join(self.dir, "etc")
        self.queue = os.path.join(self.dir, "queue")
        self.log_path = os.path.join(self.dir, "maillog")
        os.makedirs(self.config)
        os.makedirs(self.queue)  # postfix creates what is inside
        main = [
            "compatibility_level = 3.6",
            f"queue_directory = {self.queue}",
            f"data_directory = {self.dir}/data",
            f"maillog_file = {self.log_path}",
            f"maillog_file_prefixes = {self.dir}",  # the default allows /var only
            "myhostname = postfix.test",
            "inet_interfaces = 127.0.0.1",
            "inet_protocols = ipv4",
            "mynetworks = 127.0.0.0/8",
            "mydestination =",
            "relayhost =",
            "default_transport = discard",
            "alias_maps =",
            "smtpd_peername_lookup = no",  # no reverse DNS: log unknown[ip]
        ]
        if tls:
            main += ["smtpd_tls_security_level = may", "smtpd_tls_loglevel = 1",
                     f"smtpd_tls_cert_file = {tls['cert']}",
                     f"smtpd_tls_key_file = {tls['key']}"]
        if upstream_proxy:
            main.append(f"smtpd_upstream_proxy_protocol = {upstream_proxy}")
        main += list(main_cf)
        with open(os.path.join(self.config, "main.cf"), "w") as f:
            f.write("\n".join(main) + "\n")
        with open(os.path.join(self.config, "master.cf"), "w") as f:
            f.write(textwrap.dedent(self.MASTER_CF).format(port=self.port))
        self.master_pid = None
        procs.on_stop(self.stop)
        self.start()

    def _postfix(self, command):
        # -c needs no alternate_config_directories: that list only guards the
        # set-gid commands (postdrop, postqueue) of non-root users.
        return subprocess.run(["postfix", "-c", self.config, command], capture_output=True,
                              timeout=60)

    def start(self):
        r = self._postfix("start")
        if r.returncode != 0:
            raise AssertionError(f"postfix start failed: {r.stdout.decode()}{r.stderr.decode()}"
                                 + self.maillog())
        with open(os.path.join(self.queue, "pid", "master.pid")) as f:
            self.master_pid = int(f.read().split()[0])
        wait_until(lambda: tcp_listening(self.port), what=f"postfix on {self.port}")

    def _master_alive(self):
        # The PID is ours only while that process's cwd is our queue (master
        # chdirs there): a recycled PID must not be killed.
        try:
            return os.readlink(f"/proc/{self.master_pid}/cwd") == self.queue
        except OSError:
            return False

    def stop(self):
        if self.master_pid is None:
            return
        # SIGTERM, then waits up to 5s. Its fallback "kill -9" never fires: awk's
        # END block turns the PID lookup's status into 1. So we SIGKILL.
        self._postfix("stop")
        try:
            wait_until(lambda: not self._master_alive(), timeout=5, what="postfix master exit")
        except AssertionError:
            os.killpg(self.master_pid, signal.SIGKILL)  # master leads its process group
            wait_until(lambda: not self._master_alive(), timeout=5, what="postfix master kill")
        self.master_pid = None

    def maillog(self):
        if not os.path.exists(self.log_path):
            return ""
        with open(self.log_path, errors="replace") as f:
            return f.read()


class NamedServer:
    """BIND 9 named, authoritative only, on 127.0.0.1:port (UDP and TCP) for
    `zones` {zone name: zone file text with $TTL, SOA and NS}. Its config, zone
    files, pid file and session key live in <workdir>/<name>-<port>; it runs as
    root in the foreground and never reads /var/cache/bind or /etc/bind state
    other than the read-only bind.keys (and no rndc: `controls { }`).

    update(zone, text) serves new zone text; the text MUST carry a higher SOA
    serial, since that is how it waits for the reload. stop() and start() stop
    and restart it on the same port. dig(qname, rtype) queries it (and fails
    when named has exited)."""

    def __init__(self, procs, workdir, zones, port=None, name="named"):
        self.procs = procs
        self.port = port or free_port_tcp_udp()
        self.name = f"{name}-{self.port}"
        self.dir = os.path.join(workdir, self.name)
        os.makedirs(self.dir)
        self.zones = dict(zones)
        self.mtime = 0.0
        conf = [f"""\
options {{
    directory "{self.dir}";
    pid-file "{self.dir}/named.pid";
    session-keyfile "{self.dir}/session.key";
    managed-keys-directory "{self.dir}";
    listen-on port {self.port} {{ 127.0.0.1; }};
    listen-on-v6 {{ none; }};
    recursion no;
    dnssec-validation no;
    notify no;
}};
controls {{ }};
"""]
        for zone, text in self.zones.items():
            path = self._write_zone(zone, text)
            conf.append(f'zone "{zone}" {{ type primary; file "{path}"; }};\n')
        self.conf = os.path.join(self.dir, "named.conf")
        with open(self.conf, "w") as f:
            f.write("".join(conf))
        self.proc = None
        self.runs = 0
        self.start()

    def _write_zone(self, zone, text):
        path = os.path.join(self.dir, (zone.strip(".") or "root") + ".zone")
        with open(path, "w") as f:
            f.write(textwrap.dedent(text))
        # named skips reloading a file whose mtime is not after the last load;
        # two writes within one timestamp tick would look unchanged.
        self.mtime = max(time.time(), self.mtime + 1)
        os.utime(path, (self.mtime, self.mtime))
        return path

    def start(self):
        self.runs += 1
        log = self.name if self.runs == 1 else f"{self.name}-{self.runs}"
        # -4: no IPv6 sockets; -n 1: one worker thread is plenty.
        self.proc = self.procs.start(["named", "-g", "-4", "-n", "1", "-c", self.conf,
                                      "-p", str(self.port)], log)
        for zone in self.zones:
            wait_until(lambda: self.serial(zone) is not None, timeout=20,
                       what=f"named serving {zone} on {self.port}")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def dig(self, qname, rtype="A", tcp=False):
        """The answer's records as `dig +short` prints them (a list of lines)."""
        if self.proc.poll() is not None:
            raise AssertionError(f"named exited {self.proc.returncode}:\n" + read_log(self.proc))
        r = subprocess.run(["dig", "@127.0.0.1", "-p", str(self.port), qname, rtype, "+short",
                            "+time=1", "+tries=1"] + (["+tcp"] if tcp else []),
                           capture_output=True, text=True, timeout=10)
        return r.stdout.split("\n")[:-1] if r.returncode == 0 else []

    def serial(self, zone):
        """The SOA serial named serves for `zone`, or None."""
        soa = self.dig(zone, "SOA")
        return int(soa[0].split()[2]) if soa and len(soa[0].split()) == 7 else None

    def update(self, zone, text):
        """Rewrites the zone file, reloads (SIGHUP) and waits for the new serial."""
        old = self.serial(zone)
        self.zones[zone] = text
        self._write_zone(zone, text)
        self.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: self.serial(zone) not in (None, old), timeout=20,
                   what=f"a serial after {old} for {zone} (did the update bump it?)")


class SippUas:
    """A sipp UAS on 127.0.0.1:port (transport "udp" or "tcp") that answers
    every SIP OPTIONS with `status` (200, or e.g. 503 for a sick server).

    The scenario is one OPTIONS in, one response out. sipp in UAS mode runs
    the scenario once per new Call-ID, so it answers any number of probes,
    each its own call; the response echoes Via/From/To/Call-ID/CSeq."""

    REASONS = {200: "OK", 403: "Forbidden", 404: "Not Found", 480: "Temporarily Unavailable",
               486: "Busy Here", 500: "Server Internal Error", 503: "Service Unavailable"}

    SCENARIO = """\
<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="options-{status}">
  <recv request="OPTIONS"/>
  <send>
    <![CDATA[
SIP/2.0 {status} {reason}
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag[call_number]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:[local_ip]:[local_port];transport=[transport]>
Content-Length: 0

    ]]>
  </send>
</scenario>
"""

    def __init__(self, procs, workdir, transport="udp", status=200, port=None):
        if transport not in ("udp", "tcp"):
            raise ValueError(f"transport {transport!r}")
        self.transport = transport
        self.port = port or free_port_tcp_udp()
        scenario = os.path.join(workdir, f"sipp-{self.port}.xml")
        with open(scenario, "w") as f:
            f.write(self.SCENARIO.format(status=status, reason=self.REASONS.get(status, "Status")))
        # -bind_local: listen on 127.0.0.1 only (else on all addresses); its UDP
        # control socket would take 0.0.0.0:8888, shared by all sipps: -ci/-cp.
        # (RTP sockets take 127.0.0.1:6000 and up, the next free pair each.)
        # sipp's watchdog ends the run after 120 main-loop stalls of 0.5s (or 10
        # of 3s): a loaded CI machine must not end our server. -nostdin: no
        # keyboard commands; in the foreground without a tty it prints only
        # its final statistics.
        self.proc = procs.start(
            ["sipp", "-sf", scenario, "-i", "127.0.0.1", "-bind_local", "-p", str(self.port),
             "-t", "u1" if transport == "udp" else "t1", "-nostdin",
             "-ci", "127.0.0.1", "-cp", str(free_port_tcp_udp()),
             "-watchdog_minor_maxtriggers", "1000000", "-watchdog_major_maxtriggers", "1000000"],
            f"sipp-{self.port}")
        ready = (lambda: tcp_listening(self.port)) if transport == "tcp" else self._udp_answers
        wait_until(lambda: self.proc.poll() is not None or ready(), timeout=15,
                   what=f"sipp on {transport} {self.port}")
        if self.proc.poll() is not None:
            raise AssertionError(f"sipp exited {self.proc.returncode}:\n" + read_log(self.proc))

    def _udp_answers(self):
        """Sends one OPTIONS (a call of its own) and reads any SIP response."""
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            s.settimeout(0.5)
            me = s.getsockname()[1]
            tag = time.monotonic_ns()
            s.sendto("\r\n".join([
                f"OPTIONS sip:ping@127.0.0.1:{self.port} SIP/2.0",
                f"Via: SIP/2.0/UDP 127.0.0.1:{me};branch=z9hG4bK-ready-{tag}",
                "From: <sip:sbtest@127.0.0.1>;tag=ready", "To: <sip:ping@127.0.0.1>",
                f"Call-ID: ready-{tag}@127.0.0.1", "CSeq: 1 OPTIONS", "Max-Forwards: 70",
                "Content-Length: 0", "", ""]).encode(), ("127.0.0.1", self.port))
            try:
                return s.recv(65536).startswith(b"SIP/2.0 ")
            except OSError:
                return False

    def log(self):
        return read_log(self.proc)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


class ScriptedServer:
    """A TCP server on loopback that runs `script(conn)` for every connection
    in a thread: for peers that must behave (or misbehave) in a precise way."""

    def __init__(self, script):
        import threading
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.script = script
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        import threading
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._run, args=(conn,), daemon=True).start()

    def _run(self, conn):
        with conn:
            try:
                self.script(conn)
            except OSError:
                pass

    def close(self):
        self.listener.close()


def _echo(conn):
    while True:
        data = conn.recv(65536)
        if not data:
            conn.shutdown(socket.SHUT_WR)
            return
        conn.sendall(data)


class EchoServer(ScriptedServer):
    """A TCP echo peer: writes back every byte it reads, and half-closes when
    its client does. For byte-exact relay checks."""

    def __init__(self):
        super().__init__(_echo)


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


# What an echo location tells about the request it got, as `key=value`
# fields separated by "|" (values may hold spaces and commas); for
# parse_echo. nginx prints an absent header as an empty value.
ECHO_FIELDS = ("host=$http_host|xff=$http_x_forwarded_for|xfp=$http_x_forwarded_proto|"
               "xfh=$http_x_forwarded_host|fwd=$http_forwarded|method=$request_method|"
               "uri=$request_uri|conn=$http_connection|te=$http_te|secret=$http_x_secret|"
               "keepalive=$http_keep_alive|cookie=$http_cookie|clen=$http_content_length")


def echo_location(name, path="/"):
    """An nginx location that answers 200 with `name=NAME|` and ECHO_FIELDS."""
    return (f"location {path} {{ default_type text/plain; "
            f"return 200 \"name={name}|{ECHO_FIELDS}\\n\"; }}")


def parse_echo(body):
    """{key: value} of an echo location's body (bytes or str)."""
    if isinstance(body, bytes):
        body = body.decode(errors="replace")
    return dict(field.split("=", 1) for field in body.rstrip("\n").split("|") if "=" in field)


class SocketReader:
    """Reads heads, lines and exact byte counts from a socket, keeping what
    came past them for the next read (a pipelined request or response)."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError("peer closed the connection")
        self.buf += data

    def until(self, sep, limit=1 << 20):
        """Everything up to and including `sep`."""
        while sep not in self.buf:
            if len(self.buf) > limit:
                raise AssertionError(f"no {sep!r} within {limit} bytes")
            self._fill()
        end = self.buf.index(sep) + len(sep)
        out, self.buf = self.buf[:end], self.buf[end:]
        return out

    def exact(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def rest(self):
        """Everything until the peer closes."""
        while True:
            try:
                self._fill()
            except EOFError:
                out, self.buf = self.buf, b""
                return out


class HttpMessage:
    """A parsed HTTP/1.1 request or response: `start` (the first line),
    headers as a list of (name, value), body bytes, trailers."""

    def __init__(self, start, headers, body=b"", trailers=()):
        self.start = start
        self.headers = headers
        self.body = body
        self.trailers = list(trailers)
        self.interim = []  # 1xx responses before this one

    @property
    def status(self):
        return int(self.start.split()[1])

    @property
    def method(self):
        return self.start.split()[0]

    @property
    def target(self):
        return self.start.split()[1]

    def all(self, name):
        return [v for n, v in self.headers if n.lower() == name.lower()]

    def header(self, name):
        values = self.all(name)
        return values[0] if values else None


def _read_head(reader):
    lines = reader.until(b"\r\n\r\n").decode("latin-1").split("\r\n")
    headers = []
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers.append((name.strip(), value.strip()))
    return lines[0], headers


def _read_body(reader, headers, has_body, to_close):
    """The body and trailers framed as `headers` say."""
    te = ",".join(v for n, v in headers if n.lower() == "transfer-encoding").lower()
    if not has_body:
        return b"", []
    if "chunked" in te:
        body = []
        while True:
            size = int(reader.until(b"\r\n").split(b";")[0].strip(), 16)
            if size == 0:
                break
            body.append(reader.exact(size))
            reader.exact(2)
        trailers = []
        while True:
            line = reader.until(b"\r\n")[:-2].decode("latin-1")
            if not line:
                break
            name, _, value = line.partition(":")
            trailers.append((name.strip(), value.strip()))
        return b"".join(body), trailers
    length = [v for n, v in headers if n.lower() == "content-length"]
    if length:
        return reader.exact(int(length[0])), []
    return (reader.rest() if to_close else b""), []


def read_http_request(reader):
    """One request from a client (a scripted backend's side)."""
    start, headers = _read_head(reader)
    body, trailers = _read_body(reader, headers, True, False)
    return HttpMessage(start, headers, body, trailers)


def requests_on(conn):
    """The requests a client sends on `conn`, one after another, until it
    closes the connection (a scripted keep-alive backend's loop)."""
    reader = SocketReader(conn)
    while True:
        try:
            yield read_http_request(reader)
        except EOFError:
            return


def read_http_response(reader, method="GET"):
    """One response; interim 1xx responses (but 101) are kept in .interim."""
    interim = []
    while True:
        start, headers = _read_head(reader)
        status = int(start.split()[1])
        if 100 <= status < 200 and status != 101:
            interim.append(HttpMessage(start, headers))
            continue
        has_body = method != "HEAD" and status not in (101, 204, 304)
        body, trailers = _read_body(reader, headers, has_body, True)
        response = HttpMessage(start, headers, body, trailers)
        response.interim = interim
        return response


def http_request(port, method="GET", target="/", headers=(), body=b"", host="127.0.0.1",
                 source=None, timeout=10):
    """One request on a new connection, exactly with `headers` (a list of
    (name, value): no Host unless given) plus Content-Length for a body;
    returns the response (HttpMessage)."""
    headers = list(headers)
    if body and not any(n.lower() in ("content-length", "transfer-encoding") for n, _ in headers):
        headers.append(("Content-Length", str(len(body))))
    head = f"{method} {target} HTTP/1.1\r\n" + "".join(f"{n}: {v}\r\n" for n, v in headers)
    with socket.create_connection((host, port), timeout=timeout,
                                  source_address=(source, 0) if source else None) as s:
        s.sendall(head.encode("latin-1") + b"\r\n" + body)
        return read_http_response(SocketReader(s), method)


def http_response_bytes(status, reason, headers=(), body=b""):
    """A response with Content-Length, for scripted backends."""
    head = f"HTTP/1.1 {status} {reason}\r\n" + "".join(f"{n}: {v}\r\n" for n, v in headers)
    return (head + f"Content-Length: {len(body)}\r\n\r\n").encode("latin-1") + body


class HttpClient:
    """One client connection for several requests in a row (keep-alive)."""

    def __init__(self, port, host_header="app.example.com", source=None, timeout=10):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                             source_address=(source, 0) if source else None)
        self.reader = SocketReader(self.sock)
        self.host_header = host_header

    def request(self, method="GET", target="/", headers=(), body=b""):
        headers = [("Host", self.host_header), *headers]
        if body:
            headers.append(("Content-Length", str(len(body))))
        head = f"{method} {target} HTTP/1.1\r\n" + "".join(f"{n}: {v}\r\n" for n, v in headers)
        self.sock.sendall(head.encode("latin-1") + b"\r\n" + body)
        return read_http_response(self.reader, method)

    def close(self):
        self.sock.close()


class CertificateAuthority:
    """A throwaway CA (EC P-256, made with the openssl command) that issues
    server certificates (subjectAltName DNS names) and client certificates."""

    def __init__(self, workdir, name="switchboard test CA"):
        self.workdir = workdir
        self.tag = re.sub(r"[^a-z0-9]+", "-", name.lower())
        self.key = os.path.join(workdir, f"{self.tag}.key")
        self.cert = os.path.join(workdir, f"{self.tag}.crt")
        self._openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                      "-nodes", "-days", "2", "-subj", f"/CN={name}", "-keyout", self.key,
                      "-out", self.cert, "-addext", "basicConstraints=critical,CA:TRUE",
                      "-addext", "keyUsage=critical,keyCertSign,cRLSign")

    @staticmethod
    def _openssl(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)

    def issue(self, cn, dns_names=(), client=False):
        """{cert, key} for `cn`: a server certificate for `dns_names` (default
        [cn]), or with client=True a client certificate."""
        base = os.path.join(self.workdir, f"{self.tag}-{re.sub(r'[^A-Za-z0-9.-]', '_', cn)}")
        key, csr, cert, ext = (base + suffix for suffix in (".key", ".csr", ".crt", ".ext"))
        self._openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                      "-subj", f"/CN={cn}", "-keyout", key, "-out", csr)
        with open(ext, "w") as f:
            f.write("basicConstraints=CA:FALSE\n")
            if client:
                f.write("extendedKeyUsage=clientAuth\n")
            else:
                f.write("extendedKeyUsage=serverAuth\n")
                f.write("subjectAltName=" + ",".join(f"DNS:{n}" for n in (dns_names or [cn]))
                        + "\n")
        self._openssl("x509", "-req", "-in", csr, "-CA", self.cert, "-CAkey", self.key,
                      "-set_serial", str(random.randrange(1, 1 << 60)), "-days", "2",
                      "-extfile", ext, "-out", cert)
        return {"cert": cert, "key": key}


def memory_kib(pid, field="VmHWM"):
    """A /proc/PID/status memory field in KiB: VmHWM (peak resident), VmRSS."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError(f"no {field} for {pid}")


def metric_samples(admin_port, name):
    """[(labels dict, value)] of every sample of metric `name` on /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/metrics", timeout=10) as r:
        text = r.read().decode()
    out = []
    for line in text.splitlines():
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$', line)
        if m and m.group(1) == name:
            labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
            out.append((labels, float(m.group(3))))
    return out


def metric_sum(admin_port, name, **labels):
    """The sum of the samples of `name` whose labels include `labels`."""
    return sum(v for have, v in metric_samples(admin_port, name)
               if all(have.get(k) == w for k, w in labels.items()))


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


class HeadlessChromium:
    """Debian's chromium, headless, driven over the DevTools protocol on a
    pipe (--remote-debugging-pipe: commands in on fd 3, answers out on fd 4,
    NUL-separated JSON), so a test can load a page, wait while it refreshes
    itself, read its DOM and take a screenshot. Standard library only."""

    def __init__(self, procs, workdir):
        import json
        self.json = json
        to_chrome_r, self.to_chrome = os.pipe()
        self.from_chrome, from_chrome_w = os.pipe()

        def fds():
            os.dup2(to_chrome_r, 3)
            os.dup2(from_chrome_w, 4)

        profile = tempfile.mkdtemp(prefix="chromium-", dir=workdir)
        self.proc = procs.start(["chromium", "--headless", "--no-sandbox", "--disable-gpu",
                                 "--no-first-run", "--disable-background-networking",
                                 f"--user-data-dir={profile}", "--remote-debugging-pipe",
                                 "--window-size=1200,700", "about:blank"],
                                # subprocess closes other descriptors after
                                # preexec_fn: keep 3 and 4 by number.
                                "chromium", preexec_fn=fds, pass_fds=(3, 4))
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self.next_id = 0
        self.buffer = b""
        self.session = None

    def call(self, method, params=None, session=True, timeout=20):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        os.write(self.to_chrome, self.json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        import select
        while True:
            while b"\0" in self.buffer:
                raw, self.buffer = self.buffer.split(b"\0", 1)
                reply = self.json.loads(raw)
                if reply.get("id") == self.next_id:
                    if "error" in reply:
                        raise AssertionError(f"{method}: {reply['error']}")
                    return reply.get("result", {})
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                raise AssertionError(f"chromium gave no answer to {method}")
            ready, _, _ = select.select([self.from_chrome], [], [], left)
            if ready:
                chunk = os.read(self.from_chrome, 1 << 16)
                if not chunk:
                    raise AssertionError("chromium closed its DevTools pipe")
                self.buffer += chunk

    def open(self, url):
        target = self.call("Target.createTarget", {"url": url}, session=False)["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True},
                                 session=False)["sessionId"]

    def evaluate(self, expression):
        r = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        return r.get("result", {}).get("value")

    def screenshot(self, path):
        import base64
        data = self.call("Page.captureScreenshot", {"format": "png"})["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    def close(self):
        try:
            self.call("Browser.close", session=False, timeout=5)
        except AssertionError:
            pass
        os.close(self.to_chrome)
        os.close(self.from_chrome)
