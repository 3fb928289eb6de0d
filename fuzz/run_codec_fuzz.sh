#!/usr/bin/env bash
# Builds one codec fuzz target with clang (the codecs are std only, so one
# command does) and runs it for ${FUZZ_SECONDS:-20} seconds from its seed
# corpus in fuzz/seeds/NAME. Used by CTest (fuzz.NAME) when clang++ exists.
#   fuzz/run_codec_fuzz.sh NAME WORKDIR     (NAME: proxy_protocol, smtp_reply, smtp_command, sip_message)
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
name=${1:?usage: run_codec_fuzz.sh NAME WORKDIR}
work=${2:?usage: run_codec_fuzz.sh NAME WORKDIR}
mkdir -p "$work/$name-corpus"
cp "$src/fuzz/seeds/$name/"* "$work/$name-corpus/"
# The sip target also checks what the sip listener writes (std only as well).
extra=()
[[ "$name" == sip_message ]] && extra=("$src/proxy/protocols/sip/sip_wire.cpp")
clang++ -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -I"$src" "$src/fuzz/${name}_fuzz.cpp" "$src"/net/codec/*.cpp "$src/net/ip_address.cpp" \
  "${extra[@]}" -o "$work/${name}_fuzz"
cd "$work"
"./${name}_fuzz" -max_total_time="${FUZZ_SECONDS:-20}" -print_final_stats=1 "$name-corpus" 2>&1 | tail -15
