#!/usr/bin/env bash
# Neural-network inference benchmark: luojia's engine (luojia-nn-bench) vs
# PyTorch 1.13 eager (Debian python3-torch) vs OpenCV 4.6 dnn (Debian
# python3-opencv), CPU only, same model, same input shape, same thread count.
#
# Usage: bench/nn_bench.sh        (as root the first time: installs
#                                  python3-opencv via apt if it is missing)
#
# What is compared:
#   model   bench/make_unet16.py: U-Net, 4 bands -> 6 class logits, base width
#           16, 4 levels, BN+ReLU double convs, bilinear upsampling to the
#           skip's size, concat skips, 1x1 head; the "halved" variant
#           (milesial/Pytorch-UNet's bilinear U-Net at base 16), 20.28 conv
#           GFLOP per 512x512 tile, 81.13 per 1024x1024 (2 x MACs of every
#           Conv2d; written to unet16.json). Seed 0; exported once at
#           opset 17 with dynamic H/W (BatchNorm folded into the convs).
#   luojia  luojia-nn-bench MODEL.onnx 4 S S T N: loads the ONNX file, one
#           untimed run, median of N (its own timer, in-process).
#   torch   bench/torch_bench.py: the same nn.Module rebuilt in Python (same
#           seed, so same weights; BatchNorm not folded), model(x) under
#           torch.no_grad(), torch.set_num_threads(T), 1 warm-up, median of N.
#   opencv  bench/opencv_bench.py: cv2.setNumThreads(T), readNetFromONNX,
#           1 warm-up forward, median of N. OpenCV 4.6 cannot import the
#           dynamic-H/W graph (its Shape nodes need static dims); the script
#           then times a copy with H/W fixed to S, shown as "(static)"; with
#           LUOJIA_BENCH_OPENCV_STATIC=0 the column says "fails to load".
#           Once, at 64x64, OpenCV's output is checked against PyTorch's
#           (max abs diff <= 1e-3 x max |output|).
#   Input (1, 4, S, S) float32 in [-1, 1] (each tool makes its own; the
#   values do not matter for the timing of this network: no data-dependent
#   paths, activations O(1), no denormals). Every tool runs with
#   OMP_NUM_THREADS = MKL_NUM_THREADS = OPENBLAS_NUM_THREADS = T.
#   All times are in-process medians of the forward pass only (no process
#   start, no model loading, no planning: each tool gets 1 untimed run).
#   Outputs of luojia vs PyTorch are NOT compared here (the CLI does not
#   write them); the test suite (tests/data/nn, tools/make_reference_models.py)
#   covers luojia's correctness against PyTorch.
#   sgemm   luojia-nn-bench --sgemm T: Eigen sgemm (the kernel luojia's convs
#           use) on conv-like shapes, one independent product per thread;
#           the max over its lines is the practical peak at T threads.
#
# Table: size, threads, median ms of each tool, luojia GFLOP/s (conv GFLOP /
# median seconds), luojia/torch throughput ratio (torch ms / luojia ms),
# luojia's GFLOP/s as % of the sgemm peak at that thread count, luojia's peak
# activation memory. Then issue 13's targets, each PASS/FAIL:
#   luojia >= 2x PyTorch at 2 threads and >= 1.6x at 1 thread (512x512),
#   >= 2.5x at 2 threads (1024x1024)
#
# Environment (all optional):
#   LUOJIA_BIN             dir holding luojia-nn-bench, or the binary itself
#                          (default: <repo>/build/bench)
#   LUOJIA_BENCH_DIR       work dir; the model is built once and cached here
#                          (default /tmp/luojia-bench; rebuilt when
#                          make_unet16.py is newer)
#   LUOJIA_BENCH_ITER      timed runs per measurement (default 5 at sizes
#                          <= 512, 3 above)
#   LUOJIA_BENCH_NN_SIZES  tile sides (default "512 1024"; other sides must
#                          be multiples of 16, GFLOP scaled from 512)
#   LUOJIA_BENCH_NN_THREADS  thread counts (default "1 2")
#   LUOJIA_BENCH_OPENCV_STATIC  1 (default): time OpenCV on a static-shape
#                          copy when the dynamic model fails; 0: report failure
#
# Runtime: about 1-2 minutes on 2 cores (sgemm ~2 s per thread count; the
# rest mostly PyTorch/OpenCV at 1024x1024, 1 thread). Run it on a quiet
# machine (it warns when the load average is above 0.5): every tool is CPU
# bound, and a concurrent compile halves the 2-thread sgemm peak.
#
# PyTorch notes (Debian's build): convolutions go through oneDNN (mkldnn)
# when torch's heuristic picks it (batch 1, 3x3: input > 20480 elements,
# true for every 3x3 conv at 256x256 and above), else through im2col + the
# system BLAS, which here is the netlib reference libblas3 (no OpenBLAS):
# the 1x1 head at 1 thread, and most convs at small sizes, so PyTorch's
# small-tile times (e.g. a smoke test at 64x64, ~22 ms) are not meaningful.
#
# Exit status: 0 when luojia ran everywhere and every target that was run PASSes;
# 1 otherwise.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
PY=/usr/bin/python3

LUOJIA_BIN=${LUOJIA_BIN:-$REPO/build/bench}
BENCH_DIR=${LUOJIA_BENCH_DIR:-/tmp/luojia-bench}
ITER_OVERRIDE=${LUOJIA_BENCH_ITER:-}
read -r -a SIZES <<<"${LUOJIA_BENCH_NN_SIZES:-512 1024}"
read -r -a THREADS <<<"${LUOJIA_BENCH_NN_THREADS:-1 2}"
OPENCV_STATIC=${LUOJIA_BENCH_OPENCV_STATIC:-1}

status=0
say() { printf '%s\n' "$*" >&2; }

# ---------------------------------------------------------------- install
if ! dpkg -s python3-opencv >/dev/null 2>&1; then
    say "== installing python3-opencv"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=900 python3-opencv >&2 ||
        say "WARNING: could not install python3-opencv (not root?): the OpenCV column will show failures"
fi
if ! "$PY" -c 'import torch, onnx' 2>/dev/null; then
    say "ERROR: $PY cannot import torch and onnx (Debian python3-torch, python3-onnx)"
    exit 1
fi

# ---------------------------------------------------------------- setup
mkdir -p "$BENCH_DIR/nn-logs"
LOGS=$BENCH_DIR/nn-logs
MODEL=$BENCH_DIR/unet16.onnx
MODEL_JSON=$BENCH_DIR/unet16.json
if [[ ! -s $MODEL || ! -s $MODEL_JSON || $HERE/make_unet16.py -nt $MODEL ]]; then
    say "== building $MODEL"
    "$PY" "$HERE/make_unet16.py" "$MODEL" 2>"$LOGS/make_unet16.log" >&2 ||
        { say "ERROR: make_unet16.py failed, see $LOGS/make_unet16.log"; exit 1; }
fi
read -r VARIANT GFLOP512 GFLOP1024 < <("$PY" -c '
import json, sys
m = json.load(open(sys.argv[1]))
print(m.get("variant", "?"), m["gflop"]["512"], m["gflop"]["1024"])' "$MODEL_JSON")

LUOJIA=""
if [[ -f $LUOJIA_BIN && -x $LUOJIA_BIN ]]; then
    LUOJIA=$LUOJIA_BIN
elif [[ -x $LUOJIA_BIN/luojia-nn-bench ]]; then
    LUOJIA=$LUOJIA_BIN/luojia-nn-bench
else
    say "WARNING: luojia-nn-bench not found in $LUOJIA_BIN (set LUOJIA_BIN);"
    say "         running the other tools only, exit status will be 1"
    status=1
fi

gflop_of() {  # conv GFLOP for an SxS tile
    case $1 in
        512) echo "$GFLOP512" ;;
        1024) echo "$GFLOP1024" ;;
        *) awk -v g="$GFLOP512" -v s="$1" 'BEGIN { printf "%.6f", g * (s / 512) ^ 2 }' ;;
    esac
}
iters_of() {
    if [[ -n $ITER_OVERRIDE ]]; then echo "$ITER_OVERRIDE"
    elif (($1 <= 512)); then echo 5
    else echo 3; fi
}
is_num() { [[ $1 =~ ^[0-9]+(\.[0-9]+)?$ ]]; }
# run LOGNAME T CMD...: stdout of CMD (stderr to the log), with the thread
# variables set; never fails (an empty answer means the tool failed)
run() {
    local log=$LOGS/$1.log t=$2
    shift 2
    OMP_NUM_THREADS=$t MKL_NUM_THREADS=$t OPENBLAS_NUM_THREADS=$t "$@" 2>"$log" || {
        say "WARNING: $* failed (exit $?), see $log"
        return 0
    }
}

say "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
load1=$(cut -d' ' -f1 /proc/loadavg)
if awk -v l="$load1" 'BEGIN { exit !(l > 0.5) }'; then
    say "WARNING: load average $load1: something else is running; timings (and the"
    say "         2-thread sgemm peak in particular) will be disturbed"
fi
say "== model: $MODEL (variant $VARIANT, $GFLOP512 GFLOP @512, $GFLOP1024 GFLOP @1024)"

# ---------------------------------------------------------------- sgemm peak
declare -A PEAK
for t in "${THREADS[@]}"; do
    PEAK[$t]=""
    [[ -n $LUOJIA ]] || continue
    say "== sgemm peak, $t thread(s)"
    out=$(run "sgemm-t$t" "$t" "$LUOJIA" --sgemm "$t")
    printf '%s\n' "$out" >&2
    PEAK[$t]=$(printf '%s\n' "$out" | sed -n 's/.*: \([0-9.]*\) GFLOP\/s.*/\1/p' | sort -g | tail -n1)
done

# ---------------------------------------------------------------- timings
declare -A LJ_MS LJ_MB TORCH_MS CV_MS CV_NOTE
CV_REASON=""
CV_CHECK=""
check_done=0
for s in "${SIZES[@]}"; do
    n=$(iters_of "$s")
    for t in "${THREADS[@]}"; do
        k=$s/$t
        say "== ${s}x$s, $t thread(s), $n iteration(s)"
        LJ_MS[$k]="" LJ_MB[$k]=""
        if [[ -n $LUOJIA ]]; then
            out=$(run "luojia-$s-t$t" "$t" "$LUOJIA" "$MODEL" 4 "$s" "$s" "$t" "$n")
            say "$out"
            LJ_MS[$k]=$(printf '%s\n' "$out" | sed -n 's/.*median \([0-9.]*\) ms.*/\1/p' | head -n1)
            LJ_MB[$k]=$(printf '%s\n' "$out" | sed -n 's/.*activations \([0-9.]*\) MB.*/\1/p' | head -n1)
            is_num "${LJ_MS[$k]}" || { LJ_MS[$k]=""; status=1; }
        fi

        out=$(run "torch-$s-t$t" "$t" "$PY" "$HERE/torch_bench.py" "$MODEL" "$s" "$t" "$n")
        say "$out"
        TORCH_MS[$k]=$(printf '%s\n' "$out" | awk '$1 == "torch" { print $4 }' | head -n1)
        is_num "${TORCH_MS[$k]}" || TORCH_MS[$k]=""

        cv_args=()
        ((check_done)) && cv_args+=(--no-check)
        [[ $OPENCV_STATIC == 0 ]] && cv_args+=(--no-static)
        out=$(run "opencv-$s-t$t" "$t" "$PY" "$HERE/opencv_bench.py" "${cv_args[@]}" "$MODEL" "$s" "$t" "$n")
        say "$out"
        check_done=1
        line=$(printf '%s\n' "$out" | grep -m1 '^opencv [0-9]' || true)
        chk=$(printf '%s\n' "$out" | grep -m1 '^opencv check' || true)
        [[ -n $chk ]] && CV_CHECK=$chk
        v=$(awk '{ print $4 }' <<<"$line")
        CV_NOTE[$k]=""
        if is_num "$v"; then
            CV_MS[$k]=$v
            if [[ $line == *" static (dynamic: "* ]]; then
                CV_NOTE[$k]=static
                CV_REASON=${line#* static (dynamic: }
                CV_REASON=${CV_REASON%)}
            fi
        else
            CV_MS[$k]=""
            [[ $line == *"failed: "* ]] && CV_REASON=${line#*failed: }
        fi
    done
done

# ---------------------------------------------------------------- report
f1() { awk -v x="$1" 'BEGIN { printf "%.1f", x }'; }
f2() { awk -v x="$1" 'BEGIN { printf "%.2f", x }'; }
gflops() { awk -v g="$1" -v ms="$2" 'BEGIN { printf "%.1f", g / (ms / 1000) }'; }

echo
echo "U-Net ($VARIANT, base 16, 4 bands -> 6 classes, conv GFLOP: $(f2 "$GFLOP512") @512, $(f2 "$GFLOP1024") @1024); median of $( [[ -n $ITER_OVERRIDE ]] && echo "$ITER_OVERRIDE" || echo "5 (512) / 3 (1024)") runs"
echo
echo "| size | threads | luojia ms | torch ms | opencv ms | luojia GFLOP/s | luojia/torch | luojia % sgemm peak | luojia activations MB |"
echo "|---|---|---|---|---|---|---|---|---|"
declare -A LJ_GFS LJ_RATIO LJ_PCT
for s in "${SIZES[@]}"; do
    g=$(gflop_of "$s")
    for t in "${THREADS[@]}"; do
        k=$s/$t
        lj=${LJ_MS[$k]} to=${TORCH_MS[$k]} cv=${CV_MS[$k]}
        lj_c="n/a" to_c="failed" cv_c="fails to load" gfs_c="n/a" ratio_c="n/a" pct_c="n/a" mb_c=${LJ_MB[$k]:-n/a}
        [[ -n $to ]] && to_c=$(f1 "$to")
        if [[ -n $cv ]]; then
            cv_c=$(f1 "$cv")
            [[ ${CV_NOTE[$k]} == static ]] && cv_c="$cv_c (static)"
        fi
        if [[ -n $lj ]]; then
            lj_c=$(f1 "$lj")
            LJ_GFS[$k]=$(gflops "$g" "$lj")
            gfs_c=${LJ_GFS[$k]}
            if [[ -n $to ]]; then
                LJ_RATIO[$k]=$(awk -v a="$to" -v b="$lj" 'BEGIN { printf "%.2f", a / b }')
                ratio_c="${LJ_RATIO[$k]}x"
            fi
            if [[ -n ${PEAK[$t]} ]]; then
                LJ_PCT[$k]=$(awk -v a="${LJ_GFS[$k]}" -v p="${PEAK[$t]}" 'BEGIN { printf "%.1f", 100 * a / p }')
                pct_c="${LJ_PCT[$k]}%"
            fi
        fi
        echo "| ${s}x$s | $t | $lj_c | $to_c | $cv_c | $gfs_c | $ratio_c | $pct_c | $mb_c |"
    done
done

echo
echo "sgemm practical peak (luojia-nn-bench --sgemm, max over shapes):"
for t in "${THREADS[@]}"; do
    echo "- $t thread(s): ${PEAK[$t]:-n/a} GFLOP/s"
done
echo
if [[ -n $CV_REASON ]]; then
    if [[ $OPENCV_STATIC == 0 ]] || [[ -z ${CV_MS[*]// /} ]]; then
        echo "OpenCV dnn fails to load the model: $CV_REASON"
    else
        echo "OpenCV dnn fails to load the dynamic-H/W model ($CV_REASON);"
        echo "\"(static)\": timed on a copy with the input H/W fixed to the tile size."
    fi
fi
[[ -n $CV_CHECK ]] && echo "OpenCV vs PyTorch: ${CV_CHECK#opencv check }"
echo "luojia vs PyTorch outputs: not compared here (covered by the test suite)."

echo
echo "Targets (issue 13), each luojia/torch throughput in the same run:"
verdict() {  # verdict VALUE TARGET
    if [[ -z $1 ]]; then echo "n/a"
    elif awk -v v="$1" -v tg="$2" 'BEGIN { exit !(v >= tg) }'; then echo "PASS"
    else echo "FAIL"; fi
}
for target in "512 2 2.0" "512 1 1.6" "1024 2 2.5"; do
    read -r ts tt tr <<<"$target"
    k=$ts/$tt
    if [[ -z ${LJ_MS[$k]+set} ]]; then
        echo "- ${ts}x$ts at $tt thread(s) >= ${tr}x: not run"
        continue
    fi
    v=$(verdict "${LJ_RATIO[$k]:-}" "$tr")
    echo "- ${ts}x$ts at $tt thread(s) >= ${tr}x PyTorch: ${LJ_RATIO[$k]:-n/a}x: $v"
    [[ $v == PASS ]] || status=1
done
echo "(GFLOP/s are effective: the direct convolutions' FLOPs over the time; with Winograd"
echo " convolutions they can exceed the sgemm peak, which the % column shows as over 100%.)"
say "logs: $LOGS"
exit "$status"
