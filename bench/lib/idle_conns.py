#!/usr/bin/env python3
"""Idle-connection helpers for the idle-memory scenario (python3 stdlib only).

  idle_conns.py server HOST PORT
      Accepts TCP connections and holds them open without sending anything;
      closes its side when the peer closes. bench/run counts the connections
      it holds from /proc/PID/fd.

  idle_conns.py client HOST PORT N [--parallel 200] [--timeout 30]
      Opens N TCP connections to HOST:PORT (at most --parallel connects in
      flight), prints "connected C failed F" once every connect has finished,
      then holds the connections, sending nothing, until SIGTERM/SIGINT.

Both raise their open-file soft limit to the hard limit first.
"""
import argparse
import errno
import resource
import selectors
import signal
import socket
import sys
import time


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def serve(host, port):
    sel = selectors.DefaultSelector()
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind((host, port))
    lsock.listen(4096)
    lsock.setblocking(False)
    sel.register(lsock, selectors.EVENT_READ, None)
    while True:
        for key, _ in sel.select():
            if key.data is None:
                for _ in range(256):
                    try:
                        conn, _addr = lsock.accept()
                    except (BlockingIOError, InterruptedError):
                        break
                    except OSError as e:  # EMFILE and the like: report, keep going
                        if e.errno in (errno.EMFILE, errno.ENFILE):
                            print(f"idle server: accept: {e}", file=sys.stderr, flush=True)
                            time.sleep(0.1)
                        break
                    conn.setblocking(False)
                    sel.register(conn, selectors.EVENT_READ, "conn")
            else:
                conn = key.fileobj
                try:
                    data = conn.recv(65536)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    data = b""
                if not data:  # peer closed (or reset): release
                    sel.unregister(conn)
                    conn.close()


def client(host, port, n, parallel, timeout):
    sel = selectors.DefaultSelector()
    held = []
    pending = 0
    started = 0
    failed = 0
    errors = {}
    deadline = time.monotonic() + timeout
    while (started < n or pending) and time.monotonic() < deadline:
        while started < n and pending < parallel:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            rc = s.connect_ex((host, port))
            started += 1
            if rc in (0, errno.EINPROGRESS):
                sel.register(s, selectors.EVENT_WRITE, None)
                pending += 1
            else:
                failed += 1
                errors[errno.errorcode.get(rc, rc)] = errors.get(errno.errorcode.get(rc, rc), 0) + 1
                s.close()
        for key, _ in sel.select(timeout=0.5):
            s = key.fileobj
            sel.unregister(s)
            pending -= 1
            err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err == 0:
                held.append(s)
            else:
                failed += 1
                errors[errno.errorcode.get(err, err)] = errors.get(errno.errorcode.get(err, err), 0) + 1
                s.close()
    failed += pending  # still connecting at the deadline
    detail = " ".join(f"{k}={v}" for k, v in sorted(errors.items(), key=str))
    print(f"connected {len(held)} failed {failed} {detail}".rstrip(), flush=True)
    while True:  # hold them, idle, until killed
        signal.pause()


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="mode", required=True)
    s = sub.add_parser("server")
    s.add_argument("host")
    s.add_argument("port", type=int)
    c = sub.add_parser("client")
    c.add_argument("host")
    c.add_argument("port", type=int)
    c.add_argument("n", type=int)
    c.add_argument("--parallel", type=int, default=200)
    c.add_argument("--timeout", type=float, default=30.0)
    a = ap.parse_args()
    raise_nofile()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
    if a.mode == "server":
        serve(a.host, a.port)
    else:
        client(a.host, a.port, a.n, a.parallel, a.timeout)


if __name__ == "__main__":
    main()
