#!/usr/bin/env bash
# The engine against ONNX Runtime on the architectures people run: luojia-nn-bench and ONNX
# Runtime 1.31 (CPU, through its Node binding) on each model of the zoo (bench/make_zoo.py:
# torchvision's classifiers and segmenters, U-Nets with ResNet-34 and EfficientNet-B0 encoders),
# same ONNX file, same input shape, same thread count, in the same run.
#
# Usage: bench/zoo_bench.sh [NAME ...]       (default: the whole zoo)
#
# Needs Debian's python3-torch/torchvision (to export the zoo once; cached in the work folder),
# node and npm (onnxruntime-node@1.31.1 is installed with --ignore-scripts into the work folder:
# the benchmark's peer only, never the library or the tests).
#
# Each tool gets one untimed run, then the median of LUOJIA_BENCH_ITER runs (default 5) in
# process; peak RSS is the process's (/usr/bin/time), model loading included. Ratio = ORT time /
# luojia time (above 1: luojia is faster). The last lines give the geometric mean of the ratios and
# the machine's CPU and ISA.
#
# Environment: LUOJIA_BIN (dir of luojia-nn-bench, default build/bench), LUOJIA_BENCH_DIR (work
# folder, default /tmp/luojia-zoo), LUOJIA_BENCH_ITER, LUOJIA_BENCH_THREADS (default "1 2").
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
BIN=${LUOJIA_BIN:-$REPO/build/bench}
[ -d "$BIN" ] && BIN=$BIN/luojia-nn-bench
WORK=${LUOJIA_BENCH_DIR:-/tmp/luojia-zoo}
ITER=${LUOJIA_BENCH_ITER:-5}
THREADS=${LUOJIA_BENCH_THREADS:-"1 2"}
mkdir -p "$WORK"
[ -x "$BIN" ] || { echo "zoo_bench: no luojia-nn-bench at $BIN (build first)" >&2; exit 1; }
command -v node >/dev/null || { echo "zoo_bench: node is needed for ONNX Runtime's binding" >&2; exit 1; }
if [ ! -d "$WORK/node_modules/onnxruntime-node" ]; then
  (cd "$WORK" && npm init -y >/dev/null && npm install --ignore-scripts onnxruntime-node@1.31.1 >/dev/null)
fi
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  mapfile -t names < <(/usr/bin/python3 -c "import sys; sys.path.insert(0, '$HERE'); import make_zoo; print('\n'.join(make_zoo.ZOO))")
fi
for name in "${names[@]}"; do
  [ -f "$WORK/$name.onnx" ] || /usr/bin/python3 "$HERE/make_zoo.py" "$WORK" "$name" 2>/dev/null | grep -v -i warn || true
done

rss() { awk '/Maximum resident set size/ {printf "%.0f", $NF / 1024}' "$1"; }
printf '%-30s %3s %10s %10s %7s %9s %9s\n' model thr luojia_ms ort_ms ratio luojia_MB ort_MB
log_sum=0; count=0
for name in "${names[@]}"; do
  read -r channels size < <(/usr/bin/python3 -c "import json; e = json.load(open('$WORK/zoo.json'))['$name']; print(e['channels'], e['size'])")
  for t in $THREADS; do
    export OMP_NUM_THREADS=$t
    l=$(/usr/bin/time -v -o "$WORK/time_l" "$BIN" "$WORK/$name.onnx" "$channels" "$size" "$size" "$t" "$ITER" 2>&1 | sed -n 's/.*median \([0-9.]*\) ms.*/\1/p')
    o=$(cd "$WORK" && NODE_PATH="$WORK/node_modules" /usr/bin/time -v -o "$WORK/time_o" node "$HERE/ort_bench.js" "$WORK/$name.onnx" "$channels" "$size" "$size" "$t" "$ITER" 2>&1 | sed -n 's/.*median \([0-9.]*\) ms.*/\1/p')
    if [ -z "$l" ] || [ -z "$o" ]; then
      printf '%-30s %3s %10s %10s\n' "$name" "$t" "${l:-failed}" "${o:-failed}"
      continue
    fi
    ratio=$(awk -v o="$o" -v l="$l" 'BEGIN {printf "%.2f", o / l}')
    log_sum=$(awk -v s="$log_sum" -v r="$ratio" 'BEGIN {print s + log(r)}')
    count=$((count + 1))
    printf '%-30s %3s %10s %10s %7s %9s %9s\n' "$name" "$t" "$l" "$o" "$ratio" "$(rss "$WORK/time_l")" "$(rss "$WORK/time_o")"
  done
done
[ "$count" -gt 0 ] && awk -v s="$log_sum" -v n="$count" 'BEGIN {printf "geometric mean of ORT / luojia over %d runs: %.2fx\n", n, exp(s / n)}'
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; ISA: $(grep -qw avx512f /proc/cpuinfo && echo AVX-512 || (grep -qw avx2 /proc/cpuinfo && echo AVX2+FMA) || echo SSE2); $("$(dirname "$BIN")/../examples/luojia-info" --version 2>/dev/null | head -1 || true)"
