#!/usr/bin/env python3
"""Captures the seed corpus of fuzz/dns_records_fuzz.cpp: real answers from
BIND 9 named (A, AAAA, SRV, MX with glue, NXDOMAIN), with the name
compression named writes, into fuzz/seeds/dns_records/.
   python3 fuzz/capture_dns_records_seeds.py"""

import os
import socket
import struct
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
from sbtest import NamedServer, Processes  # noqa: E402

ZONE = """\
$TTL 300
@          IN SOA ns.example.test. hostmaster.example.test. (1 60 60 600 30)
           IN NS  ns.example.test.
ns         IN A   192.0.2.53
app        IN A   192.0.2.10
app        IN A   192.0.2.11
app        IN AAAA 2001:db8::10
_smtp._tcp IN SRV 10 60 25 mx1.example.test.
_smtp._tcp IN SRV 20 10 2525 mx2.example.test.
@          IN MX  10 mx1.example.test.
@          IN MX  20 mx2.example.test.
mx1        IN A   192.0.2.21
mx1        IN AAAA 2001:db8::21
mx2        IN A   192.0.2.22
"""

QUERIES = {"a": ("app.example.test", 1), "aaaa": ("app.example.test", 28),
           "srv": ("_smtp._tcp.example.test", 33), "mx_with_glue": ("example.test", 15),
           "nxdomain": ("nothing.example.test", 15)}


def query(name, qtype):
    q = struct.pack("!HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\0" + struct.pack("!HH", qtype, 1)


def main():
    out = os.path.join(HERE, "seeds", "dns_records")
    os.makedirs(out, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        procs = Processes(work)
        try:
            named = NamedServer(procs, work, {"example.test.": ZONE})
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.settimeout(5)
            for file, (name, qtype) in QUERIES.items():
                s.sendto(query(name, qtype), ("127.0.0.1", named.port))
                answer, _ = s.recvfrom(65535)
                with open(os.path.join(out, file), "wb") as f:
                    f.write(answer)
                print(f"{file}: {len(answer)} bytes")
        finally:
            procs.stop_all()


if __name__ == "__main__":
    main()
