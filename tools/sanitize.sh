#!/usr/bin/env bash
# The sanitizer stage of CI: everything built with clang, AddressSanitizer and
# UndefinedBehaviorSanitizer (LUOJIA_SANITIZE) plus the libFuzzer harnesses (LUOJIA_FUZZ); then
# the test suite under the sanitizers, less the two tests that rebuild luojia from scratch
# (portable build, install + find_package), and a short bounded run of each fuzzer over its
# committed corpus. Any sanitizer report fails the run.
# The build is a portable one (LUOJIA_NATIVE=OFF: Eigen's SSE paths, what a distribution ships), so
# the whole suite, PyTorch references included, also runs on the code the portable_build test
# builds; .ci/run relies on that to skip that test's separate rebuild.
#   LUOJIA_FUZZ_SECONDS  seconds per fuzzer (default 10; the long runs are in the README)
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh clang libclang-rt-14-dev libomp-dev
build=${LUOJIA_SANITIZE_BUILD_DIR:-build-sanitize}
seconds=${LUOJIA_FUZZ_SECONDS:-10}
CXX=clang++ cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLUOJIA_SANITIZE=ON -DLUOJIA_FUZZ=ON \
  -DLUOJIA_NATIVE=OFF -DLUOJIA_BUILD_BENCHMARKS=OFF -DLUOJIA_PYTHON=OFF >/dev/null
cmake --build "$build" -j "$(nproc)"
# (The Python module is left out: an ASan-built extension needs the sanitizer runtime preloaded into
# python3. The first stage tests it.)
# Leak checking is off: GDAL's and protobuf's process-lifetime singletons read as leaks.
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:detect_stack_use_after_return=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# Also left out: the two scale tests (rasters over 4 GiB and 70000-pixel sides; shards of every
# streaming program merged bit for bit). They repeat at size what the suite covers small, the first
# stage of CI runs them, and under the sanitizers they took 215 s and 127 s of a 20-minute budget.
# And the QGIS provider test (the Python plugin against the programs), the output-fault test (32
# program runs against full disks and read-only folders: 279 s here) and the interruption test
# (105 s): they check the programs' behaviour at the boundary, which the first stage holds.
# And the brute-force exactness sweeps but one (random detectors of five shapes, 158 s; instance
# segmenters of two shapes, 100 s): they run the same code over more models and tile sizes, which
# the first stage does; the instance sweep of the third model (own-window masks included) stays.
# And the programs' flag walks ("every flag of luojia-X reaches the library": 16-44 s each here,
# 190 s in all, program runs that check flags reach the library's options): the first stage holds
# them, and the library code they reach runs here under the other tests. And the two shard-merge tests of detection and
# instances (45 s and 29 s here): the merge's bookkeeping, which the first stage checks; the
# detectors and masks they merge are exercised here by the other detection tests.
(cd "$build" && ctest --output-on-failure -j "$(nproc)" \
  -E "portable_build_matches_pytorch|install_and_find_package|rasters over 4 GiB|shards of every streaming program|qgis_processing_provider|^outputs: missing and read-only|^SIGINT and SIGTERM|^brute force: random detectors|PyTorch masks - PAN neck|PyTorch masks - four levels|^every flag of |^shards of a detection merge|^shards of an instance segmentation merge")
# The suite above ran the convolution GEMM this CPU dispatches to; the baseline SSE2 build too.
LUOJIA_ISA=sse2 "$build/tests/luojia_tests" "[nn]" >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for pair in onnx:fuzz_onnx_loader metadata:fuzz_model_metadata tiling:fuzz_tile_grid; do
  corpus=${pair%%:*} harness=${pair##*:}
  mkdir -p "$work/$corpus"
  cp tests/fuzz/corpus/"$corpus"/* "$work/$corpus/"
  echo "fuzzing $harness for ${seconds}s"
  "$build/tests/fuzz/$harness" -max_total_time="$seconds" -rss_limit_mb=4096 -timeout=25 -print_final_stats=1 \
    -artifact_prefix="$work/$harness-" "$work/$corpus" 2>"$work/$harness.log" ||
    { tail -n 60 "$work/$harness.log"; echo "sanitize: $harness found a problem" >&2; exit 1; }
  grep -E "stat::number_of_executed_units|cov:" "$work/$harness.log" | tail -n 2
done
echo "sanitize: tests and fuzzers clean"
