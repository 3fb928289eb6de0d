"""Sockets: what listens or is established, from /proc/net, and one DNS
query of our own (the dns-rr answer check)."""
import os
import socket

from .common import BenchError
from .procs import read


def tcp_sockets():
    """(local_port, remote_port, state) of every TCP socket (IPv4 and IPv6)."""
    out = []
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = read(path).splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            out.append((int(f[1].rsplit(":", 1)[1], 16), int(f[2].rsplit(":", 1)[1], 16), f[3]))
    return out


def listening(port):
    return any(lp == port and st == "0A" for lp, _rp, st in tcp_sockets())


def udp_bound(port):
    """Whether a UDP socket (IPv4 or IPv6) is bound to local PORT."""
    for path in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            lines = read(path).splitlines()[1:]
        except OSError:
            continue
        if any(int(line.split()[1].rsplit(":", 1)[1], 16) == port for line in lines):
            return True
    return False


def dns_query_a(host, port, name, timeout=2.0, tries=3):
    """One UDP query for NAME A (no EDNS); returns (rcode, [IPv4 addresses in
    the answer section]). Raises BenchError when no answer comes."""
    qid = os.getpid() & 0xFFFF
    qname = b"".join(bytes([len(l)]) + l.encode() for l in name.rstrip(".").split(".")) + b"\0"
    query = qid.to_bytes(2, "big") + bytes.fromhex("0100 0001 0000 0000 0000") + qname + \
        bytes.fromhex("0001 0001")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        for _ in range(tries):
            s.sendto(query, (host, port))
            try:
                resp = s.recv(4096)
            except socket.timeout:
                continue
            if len(resp) >= 12 and int.from_bytes(resp[:2], "big") == qid:
                break
        else:
            raise BenchError(f"no answer to {name} A from {host}:{port} after {tries} tries")

    def skip_name(i):
        while True:
            n = resp[i]
            if n == 0:
                return i + 1
            if n & 0xC0 == 0xC0:  # compression pointer
                return i + 2
            i += n + 1

    rcode = resp[3] & 0x0F
    qd, an = int.from_bytes(resp[4:6], "big"), int.from_bytes(resp[6:8], "big")
    i = 12
    addrs = []
    try:
        for _ in range(qd):
            i = skip_name(i) + 4
        for _ in range(an):
            i = skip_name(i)
            rtype = int.from_bytes(resp[i:i + 2], "big")
            rdlen = int.from_bytes(resp[i + 8:i + 10], "big")
            i += 10
            if rtype == 1 and rdlen == 4:
                addrs.append(socket.inet_ntoa(resp[i:i + 4]))
            i += rdlen
    except (IndexError, OSError) as e:
        raise BenchError(f"malformed answer to {name} A from {host}:{port} ({e}): {resp.hex()}")
    return rcode, addrs


def established(local_port=None, remote_port=None):
    return sum(1 for lp, rp, st in tcp_sockets()
               if st == "01" and (local_port is None or lp == local_port)
               and (remote_port is None or rp == remote_port))
