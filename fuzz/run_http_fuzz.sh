#!/usr/bin/env bash
# Builds one of the http listener's fuzz targets with clang and runs it for
# ${FUZZ_SECONDS:-20} seconds from its seed corpus in fuzz/seeds/NAME. The
# listener's rules (proxy/protocols/http/{route_table,header_rules,h1_wire})
# need only Boost's headers (Beast) and fmt, so one command does. Used by
# CTest (fuzz.NAME) when clang++ exists.
# http2_codec is HTTP/2's server side (proxy/protocols/http/h2_codec.cpp),
# which needs the system's libnghttp2 (not instrumented: our code is).
#   fuzz/run_http_fuzz.sh NAME WORKDIR     (NAME: http_route, http_headers, http2_codec)
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
name=${1:?usage: run_http_fuzz.sh NAME WORKDIR}
work=${2:?usage: run_http_fuzz.sh NAME WORKDIR}
case $name in
  http_route | http_headers)
    sources=("$src"/proxy/protocols/http/{route_table,header_rules,h1_wire}.cpp)
    libs=(-lfmt) ;;
  http2_codec)
    sources=("$src/proxy/protocols/http/h2_codec.cpp")
    libs=(-lnghttp2) ;;
  *) echo "run_http_fuzz.sh: no http target named $name" >&2; exit 2 ;;
esac
mkdir -p "$work/$name-corpus"
cp "$src/fuzz/seeds/$name/"* "$work/$name-corpus/"
clang++ -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -I"$src" "$src/fuzz/${name}_fuzz.cpp" "${sources[@]}" "${libs[@]}" -o "$work/${name}_fuzz"
cd "$work"
"./${name}_fuzz" -max_total_time="${FUZZ_SECONDS:-20}" -print_final_stats=1 "$name-corpus" 2>&1 | tail -15
