#!/usr/bin/env bash
# Builds the DNS discovery answer fuzz target with clang and runs it for
# ${FUZZ_SECONDS:-20} seconds from the answers in fuzz/seeds/dns_records.
# dns/records.cpp reads names with c-ares' ares_expand_name, so the command
# links the system's libcares (not instrumented: coverage is of our parser,
# sanitizers see every byte it hands c-ares). Used by CTest (fuzz.dns_records)
# when clang++ exists.
#   fuzz/run_dns_records_fuzz.sh WORKDIR
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
work=${1:?usage: run_dns_records_fuzz.sh WORKDIR}
mkdir -p "$work/dns_records-corpus"
cp "$src/fuzz/seeds/dns_records/"* "$work/dns_records-corpus/"
# shellcheck disable=SC2046  # pkg-config's words are separate flags
clang++ -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -I"$src" $(pkg-config --cflags libcares) "$src/fuzz/dns_records_fuzz.cpp" \
  "$src/dns/records.cpp" "$src/net/ip_address.cpp" $(pkg-config --libs libcares) \
  -o "$work/dns_records_fuzz"
cd "$work"
./dns_records_fuzz -max_total_time="${FUZZ_SECONDS:-20}" -print_final_stats=1 dns_records-corpus 2>&1 | tail -15
