#!/usr/bin/env bash
# Builds strata and runs every test:
#   1. Release build, all CTest suites (unit, golden-model, end-to-end CLI and server tests);
#   2. ASan + UBSan build of the unit tests, run under the sanitizers;
#   3. the libFuzzer targets (clang), each run briefly on its seed corpus.
# Exits non-zero if any step fails.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${STRATA_JOBS:-$(nproc)}
launcher=()
if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi

step() { echo "== $* (at ${SECONDS}s)"; }

step "release build + tests"
scripts/build.sh
ctest --test-dir build --output-on-failure -j "$jobs"

step "ASan + UBSan build + unit tests"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSTRATA_SANITIZE=ON \
  -DSTRATA_BUILD_BENCH=OFF "${launcher[@]}" >/dev/null
cmake --build build-asan -j "$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-asan --output-on-failure -j "$jobs" -LE slow

if [[ -d tests/fuzz ]] && ls tests/fuzz/*_fuzz.cpp >/dev/null 2>&1; then
  step "libFuzzer targets (brief runs)"
  CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DSTRATA_FUZZ=ON -DSTRATA_BUILD_BENCH=OFF "${launcher[@]}" >/dev/null
  cmake --build build-fuzz -j "$jobs" --target strata_fuzzers
  for f in build-fuzz/tests/fuzz/*_fuzz; do
    name=$(basename "$f")
    corpus=tests/fuzz/corpus/${name%_fuzz}
    mkdir -p "build-fuzz/corpus-$name"
    "$f" -max_total_time="${STRATA_FUZZ_SECONDS:-30}" -rss_limit_mb=2048 \
      "build-fuzz/corpus-$name" "$corpus" 2>&1 | tail -n 3
  done
fi
echo "== all tests passed in ${SECONDS}s"
