#!/usr/bin/env bash
# Scale-out benchmark: the same job on 1 and on 2 MPI ranks (one thread each) of this machine,
# plus the cost of merging, and the per-tile throughput the README's 64-node estimate uses.
#
# Usage: sudo bench/mpi_bench.sh     (installs libopenmpi-dev/openmpi-bin and builds with
#                                     LUOJIA_MPI=ON into $LUOJIA_BUILD_DIR, default build)
#
# Jobs (each on the same raster in every run):
#   segment  luojia-segment with bench/make_unet16.py's U-Net (20.3 GFLOP per 512² tile) on an
#            SxS 4-band Float32 raster (S = LUOJIA_BENCH_MPI_SEG_SIZE, default 4096), tile 512,
#            halo auto, --threads 1, class map to GTiff.
#   index    luojia-index NDVI+EVI on an SxS 4-band UInt16 raster (S = LUOJIA_BENCH_MPI_INDEX_SIZE,
#            default 8192), --threads 1.
# Each job: 1 rank (mpirun -np 1), 1 rank with 2 threads, 2 ranks (mpirun -np 2), all with --bind-to
# none (Open MPI otherwise pins a lone rank to one core, and its second thread gets nothing); best wall time of
# LUOJIA_BENCH_REPEAT (default 2) runs, peak RSS of the largest rank (/usr/bin/time per rank).
# The 2-rank products are compared with the 1-rank ones (must be identical). Merge cost: the
# same job run as --shard 1/2 and 2/2 by hand, then luojia-merge into a GTiff (timed) and into a
# VRT (timed). Peer: the 1-rank run of the same MPI build (the single-process baseline).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
BENCH_DIR=${LUOJIA_BENCH_DIR:-/tmp/luojia-bench}
REPEAT=${LUOJIA_BENCH_REPEAT:-2}
SEG_SIZE=${LUOJIA_BENCH_MPI_SEG_SIZE:-4096}
INDEX_SIZE=${LUOJIA_BENCH_MPI_INDEX_SIZE:-8192}
PY=/usr/bin/python3
mkdir -p "$BENCH_DIR"
say() { echo "$*" >&2; }

"$ROOT/tools/install-deps.sh" libopenmpi-dev openmpi-bin python3-torch python3-onnx python3-gdal
"$ROOT/tools/build.sh" -DLUOJIA_MPI=ON
BIN=$ROOT/${LUOJIA_BUILD_DIR:-build}/examples
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1

MODEL=$BENCH_DIR/unet16.onnx
if [[ ! -s $MODEL || $HERE/make_unet16.py -nt $MODEL ]]; then
  say "== building $MODEL"
  tmp=$(mktemp -d "$BENCH_DIR/.unet16.XXXXXX")
  "$PY" "$HERE/make_unet16.py" "$tmp/unet16.onnx" >/dev/null
  mv -f "$tmp/unet16.json" "$BENCH_DIR/unet16.json"
  mv -f "$tmp/unet16.onnx" "$MODEL"
  rmdir "$tmp"
fi
INDEX_IN=$BENCH_DIR/ms4_u16_${INDEX_SIZE}_v1.tif
[[ -s $INDEX_IN ]] || "$PY" "$HERE/make_raster.py" "$INDEX_SIZE" "$INDEX_IN"
SEG_IN=$BENCH_DIR/seg4_f32_${SEG_SIZE}_mpi.tif
if [[ ! -s $SEG_IN ]]; then
  # Float32 reflectance-like values from the UInt16 generator, scaled to about 0..1.
  src=$BENCH_DIR/ms4_u16_${SEG_SIZE}_v1.tif
  [[ -s $src ]] || "$PY" "$HERE/make_raster.py" "$SEG_SIZE" "$src"
  gdal_translate -q -ot Float32 -scale 0 10000 0 1 -a_nodata none -co TILED=YES "$src" "$SEG_IN.tmp.tif"
  mv -f "$SEG_IN.tmp.tif" "$SEG_IN"
fi
WORK=$(mktemp -d "$BENCH_DIR/.mpi.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# Runs "$@" (a luojia command line with OUT for the output) on N ranks; prints "seconds peak_mb".
run_ranks() {
  local n=$1 out=$2
  shift 2
  local best="" peak=0
  for ((r = 0; r < REPEAT; r++)); do
    rm -f "$WORK"/rss.*
    sync
    local t0 t1
    t0=$(date +%s.%N)
    mpirun --oversubscribe --bind-to none -np "$n" sh -c '/usr/bin/time -f %M -o '"$WORK"'/rss.$OMPI_COMM_WORLD_RANK "$@"' luojia "$@" >/dev/null
    t1=$(date +%s.%N)
    local s
    s=$(echo "$t1 - $t0" | bc -l)
    if [[ -z $best ]] || (($(echo "$s < $best" | bc -l))); then best=$s; fi
    for f in "$WORK"/rss.*; do
      local kb
      kb=$(tail -n 1 "$f")
      ((kb > peak)) && peak=$kb
    done
  done
  printf '%.2f %.0f\n' "$best" "$((peak / 1024))"
}

# Bit-for-bit equality of two rasters, every band, in strips.
same() {
  "$PY" - "$1" "$2" <<'PYEOF' && echo identical || echo DIFFERENT
import sys
import numpy as np
from osgeo import gdal
a, b = gdal.Open(sys.argv[1]), gdal.Open(sys.argv[2])
if (a.RasterXSize, a.RasterYSize, a.RasterCount) != (b.RasterXSize, b.RasterYSize, b.RasterCount):
    sys.exit(1)
if a.GetGeoTransform() != b.GetGeoTransform():
    sys.exit(1)
for k in range(1, a.RasterCount + 1):
    for y in range(0, a.RasterYSize, 256):
        h = min(256, a.RasterYSize - y)
        x1 = a.GetRasterBand(k).ReadAsArray(0, y, a.RasterXSize, h)
        x2 = b.GetRasterBand(k).ReadAsArray(0, y, a.RasterXSize, h)
        if not np.array_equal(x1, x2, equal_nan=True):
            sys.exit(1)
PYEOF
}

declare -A T1 T2 M1 M2 SAME MERGE_TIF MERGE_VRT TV MV SAMEV TT MT
for job in segment index; do
  if [[ $job == segment ]]; then
    cmd=("$BIN/luojia-segment" -q --overwrite --threads 1 --mem 1G --tile 512 "$SEG_IN" "$MODEL")
  else
    cmd=("$BIN/luojia-index" -q --overwrite --threads 1 --mem 256M --index ndvi,evi --blue 1 --red 3 --nir 4 "$INDEX_IN")
  fi
  say "== $job: 1 rank"
  read -r T1[$job] M1[$job] < <(run_ranks 1 x "${cmd[@]}" "$WORK/$job.1.tif")
  say "   ${T1[$job]} s, ${M1[$job]} MB"
  say "== $job: 1 rank, 2 threads (the same two cores, shared in one process)"
  read -r TT[$job] MT[$job] < <(run_ranks 1 x "${cmd[@]}" "$WORK/$job.t2.tif" --threads 2)
  say "   ${TT[$job]} s"
  say "== $job: 2 ranks"
  read -r T2[$job] M2[$job] < <(run_ranks 2 x "${cmd[@]}" "$WORK/$job.2.tif")
  say "   ${T2[$job]} s, ${M2[$job]} MB per rank at most"
  SAME[$job]=$(same "$WORK/$job.1.tif" "$WORK/$job.2.tif")
  # Merge cost: two shards by hand, then luojia-merge.
  for k in 1 2; do "${cmd[@]}" "$WORK/$job.s$k.tif" --shard "$k/2"; done
  t0=$(date +%s.%N)
  "$BIN/luojia-merge" -q --overwrite "$WORK/$job.s1.tif" "$WORK/$job.s2.tif" "$WORK/$job.merged.tif"
  t1=$(date +%s.%N)
  "$BIN/luojia-merge" -q --overwrite "$WORK/$job.s1.tif" "$WORK/$job.s2.tif" "$WORK/$job.merged.vrt"
  t2=$(date +%s.%N)
  MERGE_TIF[$job]=$(printf '%.2f' "$(echo "$t1 - $t0" | bc -l)")
  MERGE_VRT[$job]=$(printf '%.3f' "$(echo "$t2 - $t1" | bc -l)")
  # 2 ranks again, merged into a VRT over the kept shards (no copy by rank 0).
  say "== $job: 2 ranks, -of VRT"
  read -r TV[$job] MV[$job] < <(run_ranks 2 x "${cmd[@]}" "$WORK/$job.2.vrt" -of VRT)
  say "   ${TV[$job]} s"
  SAMEV[$job]=$(same "$WORK/$job.1.tif" "$WORK/$job.2.vrt")
done

echo
echo "| job | raster | 1 rank s | 1 rank, 2 threads s | 2 ranks s | speed-up | 2 ranks, -of VRT s | speed-up | peak RSS MB (1 / 2 ranks, per rank) | 2 ranks = 1 rank | merge to GTiff s | merge to VRT s |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---|---|---:|---:|"
for job in segment index; do
  size=$([[ $job == segment ]] && echo "${SEG_SIZE}² 4×Float32, U-Net16" || echo "${INDEX_SIZE}² 4×UInt16, NDVI+EVI")
  up=$(printf '%.2f' "$(echo "${T1[$job]} / ${T2[$job]}" | bc -l)")
  upv=$(printf '%.2f' "$(echo "${T1[$job]} / ${TV[$job]}" | bc -l)")
  echo "| $job | $size | ${T1[$job]} | ${TT[$job]} | ${T2[$job]} | ${up}x | ${TV[$job]} | ${upv}x | ${M1[$job]} / ${M2[$job]} | ${SAME[$job]} ${SAMEV[$job]} | ${MERGE_TIF[$job]} | ${MERGE_VRT[$job]} |"
done
tiles=$(((SEG_SIZE + 511) / 512))
echo
echo "segment per-tile throughput, 1 rank 1 thread: $(printf '%.3f' "$(echo "${T1[segment]} / ($tiles * $tiles)" | bc -l)") s per 512² tile (whole run / $((tiles * tiles)) tiles)"
