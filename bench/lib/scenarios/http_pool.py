"""What the HTTP reverse-proxy scenarios share (http1-keepalive, http1-tls,
h2-tls): one nginx serving a 1 KiB file on three ports (the pool of three,
round robin, server connections kept open), the self-signed certificate of
the TLS scenarios, the contenders' configurations and the check that every
proxy sends the servers the same headers.

The anchors are the reference configurations of
/work/shared/bench-anchors/ (http1-keepalive.{cfg,conf}, and for TLS the
`bind ... ssl crt` / `listen ... ssl` of h2-tls.{cfg,conf}), ports changed to
the bench's, with one addition made for a like-for-like comparison: the
headers that tell the servers who the client is. switchboard's
`forwarded-headers: true` (the default, docs/configuration.md, "http") adds
four to every request: `X-Forwarded-For` (the client's address appended),
`X-Forwarded-Proto` (http or https), `X-Forwarded-Host` (the request's Host)
and `Forwarded` (RFC 7239: `for=...;proto=...;host="..."`). The reference
anchors add none (no `option forwardfor`, no `proxy_set_header
X-Forwarded-For`), so here both are given the same four:
  - haproxy: `option forwardfor` (X-Forwarded-For) and `http-request
    set-header`/`add-header` for the other three (haproxy 2.6 has no
    `option forwarded`, which came in 2.7);
  - nginx: `proxy_set_header` with $proxy_add_x_forwarded_for, $scheme,
    $http_host and a Forwarded built from $remote_addr. nginx also replaces
    the Host header with the upstream's name by default (`Host: pool`);
    `proxy_set_header Host $http_host` passes the client's, as haproxy and
    switchboard do.
The backend echoes what it received on /echo, and each round checks there,
before the load, that every proxy sent the same four headers and Host (the
report lists what each one sent). Over HTTP/2 (h2-tls) the client sends no
Host but `:authority`; all three proxies turn it into the Host they send.

Neither anchor logs requests, so switchboard runs with `access: false`. Server
connections: nginx keeps up to 64 idle (`keepalive 64`), haproxy any number
(`http-reuse safe`, no pool-max-conn); switchboard's default `max-idle: 16`
per server is below the requests in flight per server (~17 with wrk's 50
connections over 3 servers, ~33 with h2load's 10 × 10 streams), and would
close and reopen connections under these loads, so it gets `keepalive:
{max-idle: 64}`. The backend connections each contender opened during the
measured load are counted (nginx stub_status accepts) and shown: a few dozen
means the pool kept them.
"""
import http.client
import os
import re
import subprocess

from ..common import (BenchError, LOAD_CPU, PORT_ADMIN, PORT_FRONT, PORT_WEB, PORT_WEB_TLS)
from ..net import listening
from ..procs import wait_until
from ..scenario import Scenario

# One nginx worker serves the three pool ports (and, in the TLS scenarios,
# the same files over TLS on PORT_WEB_TLS for --contenders direct, with h2 in
# h2-tls), as in /work/shared/bench-anchors/nginx-backend.conf. /echo answers
# with the headers the proxy sent (the like-for-like check), /bench-status is
# stub_status (its accept count = backend connections opened).
BACKEND_CONF = """\
# written by bench/run: the {scenario} backend (pool of 3)
daemon off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
worker_rlimit_nofile 19500;
events {{ worker_connections 16384; }}
http {{
    access_log off;
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout 120s;
    keepalive_requests 10000000;
    open_file_cache max=64 inactive=120s;
    client_body_temp_path {dir}/body; proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fcgi; uwsgi_temp_path {dir}/uwsgi; scgi_temp_path {dir}/scgi;
    server {{
{listens}        root {dir}/www;
        add_header X-Backend $server_port;
        location = /echo {{
            default_type text/plain;
            return 200 "host=$http_host\\nxff=$http_x_forwarded_for\\nxfp=$http_x_forwarded_proto\\nxfh=$http_x_forwarded_host\\nfwd=$http_forwarded\\nproto=$server_protocol\\n";
        }}
        location = /bench-status {{ stub_status; }}
    }}
{tls_server}}}
"""

BACKEND_TLS_SERVER = """\
    server {{
        listen 127.0.0.1:{port} ssl{http2} backlog=4096;
        ssl_certificate {tls}/cert.pem;
        ssl_certificate_key {tls}/key.pem;
        ssl_protocols TLSv1.2 TLSv1.3;
        root {dir}/www;
        add_header X-Backend $server_port;
    }}
"""

SWITCHBOARD_CONF = """\
# written by bench/run ({scenario})
workers: 1
shutdown-grace: 1s
log: {{level: warn, access: false}}
admin:
  listen: 127.0.0.1:{admin}
pools:
  web:
    balance: round-robin
    connect-timeout: 5s
    health: {{check: none}}
    # {in_flight} requests in flight per server; the
    # default max-idle (16) would close and reopen connections (nginx: keepalive 64).
    keepalive: {{max-idle: 64, idle-timeout: 60s}}
    servers:
{servers}listeners:
  web:
    listen: ["127.0.0.1:{front}"]
    protocol: http
    max-connections: 20000
{tls}    http: {{routes: [{{pool: web}}], forwarded-headers: true}}
"""

SWITCHBOARD_TLS = """\
    tls:
      certificates: [{{cert: {tls}/cert.pem, key: {tls}/key.pem}}]
      min-version: "1.2"
      alpn: [{alpn}]
"""

HAPROXY_CONF = """\
# written by bench/run ({scenario}): /work/shared/bench-anchors/{source}.cfg
# with the bench's ports{tls_note}, plus the forwarded headers switchboard adds.
global
    nbthread 1
    maxconn 9000
{tls_global}
defaults
    mode http
    option http-keep-alive
    http-reuse safe
    timeout connect 5s
    timeout client 120s
    timeout server 120s
    timeout http-keep-alive 120s
    timeout http-request 30s

frontend http_ka
    bind 127.0.0.1:{front}{tls_bind}
    # the four headers of switchboard's forwarded-headers: true
    option forwardfor
    http-request set-header X-Forwarded-Proto {scheme}
    http-request set-header X-Forwarded-Host %[req.hdr(host)]
    http-request add-header Forwarded "for=%[src];proto={scheme};host=\\"%[req.hdr(host)]\\""
    default_backend pool

backend pool
    balance roundrobin
{servers}"""

NGINX_CONF = """\
# written by bench/run ({scenario}): /work/shared/bench-anchors/{source}.conf
# with the bench's ports{tls_note}, plus the forwarded headers switchboard adds
# and the client's Host passed on (nginx sends the upstream's name by default).
worker_processes 1;
daemon off;
pid @DIR@/proxy-nginx.pid;
error_log @DIR@/error.log warn;
worker_rlimit_nofile 19500;

events {{
    worker_connections 16384;
}}

http {{
    access_log off;
    client_body_temp_path @DIR@/body;
    proxy_temp_path @DIR@/proxy;
    fastcgi_temp_path @DIR@/fastcgi;
    uwsgi_temp_path @DIR@/uwsgi;
    scgi_temp_path @DIR@/scgi;
    keepalive_timeout 120s;
    keepalive_requests 10000000;

    upstream pool {{
{servers}        keepalive 64;
        keepalive_requests 10000000;
    }}

    server {{
        listen 127.0.0.1:{front}{tls_listen} backlog=4096;
{tls_server}        location / {{
            proxy_pass http://pool;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-Host $http_host;
            proxy_set_header Forwarded "for=$remote_addr;proto=$scheme;host=\\"$http_host\\"";
        }}
    }}
}}
"""

PROXIES = ("switchboard", "switchboard-base", "switchboard-nometrics", "haproxy", "nginx")
SWITCHBOARDS = ("switchboard", "switchboard-base", "switchboard-nometrics")


class HttpPool(Scenario):
    """The backend, the certificate, the contenders' configurations and the
    forwarded-headers check; a subclass adds its load (run) and how it asks
    the proxy for the check's responses (check)."""
    tls = False
    h2 = False  # clients speak HTTP/2 to the proxy (ALPN h2); the pool stays HTTP/1.1
    source = "http1-keepalive"  # the reference configurations in /work/shared/bench-anchors/
    in_flight = "50 clients over 3 servers: ~17"  # for switchboard's keepalive comment
    clients = 50  # client connections, each one accept per measured load

    @classmethod
    def tools(cls, contenders):
        return {"nginx"} | ({"openssl"} if cls.tls else set())

    def __init__(self, bench):
        super().__init__(bench)
        self.scheme = "https" if self.tls else "http"
        self.tls_dir = os.path.join(bench.tmp, "tls")
        self.seen = {}  # contender -> the headers the backend got from it (/echo)
        self.note = ("target (BENCH-NOTES): switchboard's proxy µs CPU/req ≤ 0.80 × the best "
                     "anchor's, i.e. a \"vs best anchor\" CPU ratio ≤ 0.80; test fault hooks, "
                     "when the switchboard line says they are built in, cost one load and "
                     "compare per accept: "
                     f"{self.clients} accepts per measured load here, negligible")

    def supports(self, contender):
        return contender.name in PROXIES or contender.name == "direct"

    def contender_config(self, name):
        ports = list(enumerate(PORT_WEB, 1))
        alpn = "h2,http/1.1" if self.h2 else "http/1.1"
        tls_note = ", TLS as in h2-tls.cfg/.conf (no h2)" if self.tls and not self.h2 else ""
        if name in SWITCHBOARDS:
            return SWITCHBOARD_CONF.format(
                scenario=self.name, admin=PORT_ADMIN, front=PORT_FRONT,
                in_flight=self.in_flight,
                servers="".join(f"      - {{address: 127.0.0.1:{p}, name: b{i}}}\n"
                                for i, p in ports),
                tls=SWITCHBOARD_TLS.format(tls=self.tls_dir, alpn=alpn.replace(",", ", "))
                if self.tls else "")
        if name == "haproxy":
            return HAPROXY_CONF.format(
                scenario=self.name, source=self.source, front=PORT_FRONT, scheme=self.scheme,
                tls_note=tls_note,
                tls_global="    ssl-default-bind-options ssl-min-ver TLSv1.2\n" if self.tls else "",
                tls_bind=f" ssl crt {self.tls_dir}/bench.pem alpn {alpn}" if self.tls else "",
                servers="".join(f"    server b{i} 127.0.0.1:{p}\n" for i, p in ports))
        if name == "nginx":
            return NGINX_CONF.format(
                scenario=self.name, source=self.source, front=PORT_FRONT, tls_note=tls_note,
                tls_listen=(" ssl" + (" http2" if self.h2 else "")) if self.tls else "",
                tls_server=(f"        ssl_certificate {self.tls_dir}/cert.pem;\n"
                            f"        ssl_certificate_key {self.tls_dir}/key.pem;\n"
                            f"        ssl_protocols TLSv1.2 TLSv1.3;\n") if self.tls else "",
                servers="".join(f"        server 127.0.0.1:{p};\n" for _i, p in ports))
        return None

    def make_certificate(self):
        """A self-signed ECDSA P-256 certificate for 127.0.0.1: cert.pem and
        key.pem (switchboard, nginx) and bench.pem, both in one (haproxy)."""
        d = self.tls_dir
        os.makedirs(d, exist_ok=True)
        argv = ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                "-subj", "/CN=bench.example.test",
                "-addext", "subjectAltName=DNS:bench.example.test,IP:127.0.0.1",
                "-keyout", os.path.join(d, "key.pem"), "-out", os.path.join(d, "cert.pem")]
        r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise BenchError(f"openssl could not make the certificate: {r.stderr.strip()}")
        with open(os.path.join(d, "bench.pem"), "w") as out:
            for f in ("cert.pem", "key.pem"):
                with open(os.path.join(d, f)) as src:
                    out.write(src.read())
        self.bench.commands.setdefault(f"certificate {self.name}", " ".join(
            a if " " not in a else f"'{a}'" for a in argv))

    def start_backends(self):
        b = self.bench
        if self.tls:
            self.make_certificate()
        d = os.path.join(b.tmp, f"backend-{self.name}")
        www = os.path.join(d, "www")
        os.makedirs(www, exist_ok=True)
        for x in (d, www):
            os.chmod(x, 0o755)
        path = os.path.join(www, "1k.bin")
        with open(path, "wb") as f:
            f.write(bytes(i % 251 for i in range(1024)))
        os.chmod(path, 0o644)
        conf = os.path.join(d, "nginx.conf")
        listens = "".join(f"        listen 127.0.0.1:{p} backlog=4096;\n" for p in PORT_WEB)
        tls_server = BACKEND_TLS_SERVER.format(port=PORT_WEB_TLS, tls=self.tls_dir, dir=d,
                                               http2=" http2" if self.h2 else "") \
            if self.tls else ""
        with open(conf, "w") as f:
            f.write(BACKEND_CONF.format(scenario=self.name, dir=d, listens=listens,
                                        tls_server=tls_server))
        argv = ["taskset", "-c", LOAD_CPU, "nginx", "-p", d, "-c", conf,
                "-e", os.path.join(d, "error.log")]
        b.commands.setdefault(f"backend {self.name}", " ".join(argv))
        p = b.procs.start(f"nginx-backend-{self.name}", argv)
        self.backends = [p]
        for port in PORT_WEB + ((PORT_WEB_TLS,) if self.tls else ()):
            wait_until(lambda: listening(port), 10, f"the nginx backend to listen on {port}", p)
        wait_until(lambda: len(p.tree()) >= 2, 10, "the nginx backend worker", p)

    # ------------------------------------------------------------ checks

    def backend_accepts(self):
        """Connections the backend nginx accepted so far (stub_status),
        counting the one this asks on."""
        c = http.client.HTTPConnection("127.0.0.1", PORT_WEB[0], timeout=5)
        try:
            c.request("GET", "/bench-status", headers={"Connection": "close"})
            text = c.getresponse().read().decode()
        finally:
            c.close()
        m = re.search(r"accepts handled requests\s+(\d+)", text)
        if not m:
            raise BenchError(f"no accept count in the backend's stub_status: {text!r}")
        return int(m.group(1))

    def check_seen(self, contender, backends, echo):
        """The proxy balanced the check's requests (`backends`: the X-Backend
        of each) over the three servers, and /echo (`echo`: its body) shows
        the Host and four forwarded headers every proxy must send."""
        if sorted(set(backends)) != [str(p) for p in PORT_WEB]:
            raise BenchError(f"{contender.name}: {len(backends)} requests reached backends "
                             f"{backends}, not all three of {list(PORT_WEB)}")
        seen = dict(line.split("=", 1) for line in echo.splitlines() if "=" in line)
        host = f"127.0.0.1:{PORT_FRONT}"
        want = {"host": host, "xff": "127.0.0.1", "xfp": self.scheme, "xfh": host,
                "fwd": f'for=127.0.0.1;proto={self.scheme};host="{host}"', "proto": "HTTP/1.1"}
        bad = {k: seen.get(k) for k in want if seen.get(k) != want[k]}
        if bad:
            expected = {k: want[k] for k in bad}
            raise BenchError(f"{contender.name}: the backend saw {bad}, not {expected} "
                             f"(GET /echo)")
        self.seen[contender.name] = seen

    def update_note(self):
        """The report's note: the target, and what each proxy sent upstream."""
        sent = "; ".join(f"{name}: " + ", ".join(f"{k}={v}" for k, v in seen.items())
                         for name, seen in self.seen.items())
        self.note = self.note.split(" — the backend saw")[0] + \
            (f" — the backend saw (GET /echo through each proxy): {sent}" if sent else "")
