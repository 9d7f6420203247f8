#!/usr/bin/env bash
# Stereo benchmark: luojia-stereo against OpenCV's StereoSGBM (bench/opencv_stereo.py) on the same
# rectified pair, same disparity range, same thread count, both scored against the true disparity.
#
# Usage: bench/stereo_bench.sh [SIZE] [THREADS]     (defaults 2700 and 2)
#
#   pair    tools/make_stereo_pair.py: the bundled SpaceNet 4 Atlanta image (mirrored to SIZE²)
#           with its footprints extruded to 4-30 m over a 2-22 m terrain, rendered to two views at
#           B/H 0.4 (0.8 px of disparity per metre at 0.5 m GSD), UInt16; the true disparity is
#           known wherever both views see the surface. Cached in $LUOJIA_BENCH_DIR.
#   luojia  luojia-stereo --rectified --min-disparity 0 --max-disparity 47 --threads T (census,
#           8 paths of length 32, defaults otherwise), and --paths 4; wall time and peak RSS from
#           /usr/bin/time, whole program (reads, two passes, GeoTIFF writes).
#   opencv  StereoSGBM in its four modes, numDisparities 48, whole images in memory; compute()
#           time and the script's whole time and peak RSS.
#   scores  over the pixels with a true disparity: completeness (a disparity given), end-point
#           error (mean |d - truth|), D1 (share off by more than 3 px), and the median height
#           error in metres (|d - truth| / 0.8).
set -euo pipefail
size=${1:-2700}
threads=${2:-2}
here=$(cd "$(dirname "$0")/.." && pwd)
build=${LUOJIA_BUILD_DIR:-$here/build}
work=${LUOJIA_BENCH_DIR:-/tmp/luojia-bench}/stereo-$size
mkdir -p "$work"
[ -f "$work/truth.tif" ] || /usr/bin/python3 "$here/tools/make_stereo_pair.py" "$work" --size "$size" > /dev/null
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores; pair ${size}x${size}, disparities 0..47, $threads threads"

score() {
  /usr/bin/python3 - "$work/truth.tif" "$1" <<'PY'
import sys, numpy as np, rasterio
t = rasterio.open(sys.argv[1]).read(1); d = rasterio.open(sys.argv[2]).read(1)
tv = t != -9999; v = tv & (d != -9999); e = np.abs(d - t)[v]
print(f"complete {v.sum() / tv.sum():.3f}  EPE {e.mean():.3f} px  D1 {100 * (e > 3).mean():.2f}%  median |dh| {np.median(e) / 0.8:.2f} m")
PY
}

declare -A seconds
run_luojia() {  # NAME ARGS...
  local name=$1; shift
  /usr/bin/time -f "%e %M" -o "$work/time.txt" "$build/examples/luojia-stereo" -q --overwrite --rectified --max-disparity 47 \
    --threads "$threads" "$@" "$work/left.tif" "$work/right.tif" "$work/$name.tif"
  read -r s kb < "$work/time.txt"
  seconds[$name]=$s
  printf "%-14s %7.2f s  %6d MB  %s\n" "$name" "$s" $((kb / 1024)) "$(score "$work/$name.tif")"
}
run_opencv() {  # MODE
  local line
  line=$(/usr/bin/python3 "$here/bench/opencv_stereo.py" "$work/left.tif" "$work/right.tif" "$work/opencv-$1.tif" "$1" 0 48 "$threads")
  read -r _ _ compute total mb <<< "$line"
  seconds[opencv-$1]=$compute
  printf "%-14s %7.2f s  %6d MB  %s   (whole script %.2f s)\n" "opencv-$1" "$compute" "$mb" "$(score "$work/opencv-$1.tif")" "$total"
}
run_luojia luojia-8paths
run_luojia luojia-4paths --paths 4
for mode in hh sgbm 3way hh4; do run_opencv $mode; done
echo "ratios (OpenCV compute time / luojia whole program):"
for mode in hh sgbm 3way hh4; do
  printf "  opencv-%-5s / luojia-8paths %.2fx   / luojia-4paths %.2fx\n" $mode \
    "$(echo "${seconds[opencv-$mode]} / ${seconds[luojia-8paths]}" | bc -l)" "$(echo "${seconds[opencv-$mode]} / ${seconds[luojia-4paths]}" | bc -l)"
done

# The DSM from a pair with RPCs: tools/make_rpc_pair.py renders the bundled scene (placed in
# Wuhan, heights 21-70 m) through two synthetic RPC views at B/H 0.4 with GDAL's RPC_DEM; the DSM
# is scored against that surface (bench/score_dsm.py). No peer: OpenCV has no RPC pipeline.
rpc=${LUOJIA_BENCH_DIR:-/tmp/luojia-bench}/rpc-900
[ -f "$rpc/dsm_truth.tif" ] || /usr/bin/python3 "$here/tools/make_rpc_pair.py" "$rpc" --size 900 > /dev/null 2>&1
/usr/bin/time -f "%e %M" -o "$work/time.txt" "$build/examples/luojia-stereo" -q --overwrite --threads "$threads" \
  --min-height 15 --max-height 80 "$rpc/left.tif" "$rpc/right.tif" "$rpc/dsm.tif"
read -r s kb < "$work/time.txt"
printf "DSM from the RPC pair (900², 0.5 m): %.2f s, %d MB\n" "$s" $((kb / 1024))
/usr/bin/python3 "$here/bench/score_dsm.py" "$rpc/dsm.tif" "$rpc/dsm_truth.tif" "$rpc/left.tif" "$rpc/right.tif" 2>/dev/null
