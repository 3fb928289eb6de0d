#!/usr/bin/env bash
# Builds the DNS query fuzz target with clang (the code under test is std
# only, so one command does) and runs it for ${FUZZ_SECONDS:-30} seconds from
# a few valid queries. Used by CTest (fuzz.dns_query) when clang++ exists.
#   fuzz/run_dns_query_fuzz.sh WORKDIR
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
work=${1:?usage: run_dns_query_fuzz.sh WORKDIR}
mkdir -p "$work/dns-corpus"
clang++ -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -I"$src" \
  "$src/fuzz/dns_query_fuzz.cpp" "$src/dns/wire.cpp" "$src/dns/answer.cpp" \
  -o "$work/dns_query_fuzz"
# Seeds: an A query, an MX query with EDNS, an SRV query (id 0x1234).
python3 - "$work/dns-corpus" <<'PY'
import struct, sys
def q(name, qtype, edns=False):
    b = struct.pack("!HHHHHH", 0x1234, 0x0100, 1, 0, 0, 1 if edns else 0)
    for label in name.split("."):
        b += bytes([len(label)]) + label.encode()
    b += b"\0" + struct.pack("!HH", qtype, 1)
    if edns:
        b += b"\0" + struct.pack("!HHIH", 41, 1232, 0, 0)
    return b
for i, (n, t, e) in enumerate([("mail.example.test", 1, False), ("example.test", 15, True),
                               ("_sip._tcp.example.test", 33, False)]):
    open(f"{sys.argv[1]}/seed{i}", "wb").write(q(n, t, e))
PY
cd "$work"
./dns_query_fuzz -max_total_time="${FUZZ_SECONDS:-30}" -print_final_stats=1 dns-corpus 2>&1 | tail -15
