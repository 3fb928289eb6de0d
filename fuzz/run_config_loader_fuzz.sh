#!/usr/bin/env bash
# Builds the configuration loader's fuzz target with clang (the loader needs
# only yaml-cpp and fmt beside the std-only codecs, so one command does) and
# runs it for ${FUZZ_SECONDS:-20} seconds from its seed corpus in
# fuzz/seeds/config_loader (the shipped configs, the documentation's
# examples, a file full of errors). Used by CTest (fuzz.config_loader).
#   fuzz/run_config_loader_fuzz.sh WORKDIR
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
work=${1:?usage: run_config_loader_fuzz.sh WORKDIR}
mkdir -p "$work/config_loader-corpus"
cp "$src/fuzz/seeds/config_loader/"* "$work/config_loader-corpus/"
# -Wno-dangling-pointer's reason: proxy/CMakeLists.txt (yaml-cpp 0.7 headers).
clang++ -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -I"$src" "$src/fuzz/config_loader_fuzz.cpp" "$src"/proxy/config/*.cpp "$src"/net/codec/*.cpp \
  "$src/net/ip_address.cpp" -lyaml-cpp -lfmt -o "$work/config_loader_fuzz"
cd "$work"
# The loader is slower per input than a codec: a YAML document is parsed
# into a tree first. -max_len keeps inputs near the size of real files.
./config_loader_fuzz -max_total_time="${FUZZ_SECONDS:-20}" -max_len=4096 -print_final_stats=1 \
  config_loader-corpus 2>&1 | tail -15
