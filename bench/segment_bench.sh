#!/usr/bin/env bash
# End-to-end segmentation benchmark: luojia-segment vs a rasterio + PyTorch
# sliding-window script (bench/rasterio_segment.py), same U-Net, same raster,
# same tiles, same halo, same thread count, CPU only.
#
# Usage: bench/segment_bench.sh      (as root the first time: installs
#                                     python3-rasterio via apt if missing)
#
# What is compared:
#   model   bench/make_unet16.py (default "halved" variant): U-Net, 4 bands ->
#           6 class logits, base width 16, four 2x pooling levels, dynamic
#           H/W ONNX export at opset 17, seed 0. Built once into
#           $LUOJIA_BENCH_DIR/unet16.onnx (+ unet16.json; shared with
#           bench/nn_bench.sh; rebuilt when make_unet16.py is newer).
#   input   an SxS 4-band Float32 GeoTIFF (tiled 512, uncompressed, pixel
#           interleaved, EPSG:32618, 10 m pixels, no nodata), values about
#           -2..2: parcels with per-class band signatures and sharp edges, a
#           smooth large-scale field, a river, mild noise. Generated block by
#           block by the Python below and cached in $LUOJIA_BENCH_DIR. Raw
#           values go to the network in both tools (the model has no
#           metadata, so luojia does not normalise either).
#   luojia  luojia-segment -q --overwrite --threads T --mem 1G --tile TILE
#           --halo auto IN MODEL.onnx OUT.tif (Byte class map, nodata 255).
#   script  bench/rasterio_segment.py IN MODEL.onnx OUT.tif --tile TILE
#           --overlap HALO --threads T: rasterio windows (core + HALO on every
#           side, clipped at the border, reflect-padded to a multiple of 16 at
#           the right/bottom), the same nn.Module rebuilt in PyTorch (same
#           weights, BatchNorm unfolded), no_grad, argmax, core written to a
#           Byte GeoTIFF (tiled 512, nodata 255) with the input's profile.
#   HALO    what luojia-segment uses with --halo auto (the network's exact
#           receptive radius rounded up to 16): learnt from an untimed run
#           without -q on a small raster (its "halo N px" line), then given
#           to the script as --overlap, so both read the same windows.
# Both run with OMP_NUM_THREADS = MKL_NUM_THREADS = OPENBLAS_NUM_THREADS = T
# and GDAL_NUM_THREADS = T. GDAL's block cache: luojia sizes its own from
# --mem; the script gets GDAL's default (5% of RAM, as a user running it
# would) unless LUOJIA_BENCH_SCRIPT_GDAL_CACHEMAX is set (MB). That default
# matters for the RSS check: the script's window reads go through GDAL's
# block cache, which keeps every block read until the cache is full, so the
# script's peak RSS grows by min(input size, 5% of RAM): about +1 GB for the
# 1 GiB 8192x8192 input on a 24 GB machine (measured: +450 MB when reading a
# 512 MB input this way), i.e. the check depends on the machine's RAM.
# Timing: /usr/bin/time -f '%e %M' (wall seconds, peak RSS KB) of the whole
# process (start-up, model loading, reading, inference, writing). Warm page
# cache: both tools run once untimed on the small raster first (loads
# binaries, libraries, Python modules), `cat IN` and `sync` before each
# timed run. Best wall time / largest RSS of LUOJIA_BENCH_REPEAT runs.
#
# Environment (all optional):
#   LUOJIA_BIN                 dir holding luojia-segment, or the binary
#                              (default: <repo>/build/examples)
#   LUOJIA_BENCH_DIR           work dir: model and inputs cached here
#                              (default /tmp/luojia-bench)
#   LUOJIA_BENCH_OUT_DIR       where the class maps are written (and deleted)
#                              during the run (default: LUOJIA_BENCH_DIR)
#   LUOJIA_BENCH_SEG_SIZE      raster side (default 8192)
#   LUOJIA_BENCH_TILE          tile side, a multiple of 16 (default 512)
#   LUOJIA_BENCH_THREADS       threads for both tools (default 2)
#   LUOJIA_BENCH_SEG_MEM       luojia-segment --mem (default 1G)
#   LUOJIA_BENCH_REPEAT        timed runs per tool (default 1)
#   LUOJIA_BENCH_SCRIPT_GDAL_CACHEMAX  GDAL_CACHEMAX (MB) for the script
#                              (default: unset, GDAL's 5% of RAM)
#   LUOJIA_BENCH_KEEP          1: keep the two class maps (path printed)
#   LUOJIA_BENCH_HALO          overlap for the script when luojia-segment is
#                              missing or failed (otherwise luojia's halo)
#
# Runtime at 8192x8192, 2 threads: 256 tiles of 512 px; with luojia's halo
# of 144 px an interior tile reads 800x800, 2.4x the FLOPs of its 512x512
# core, so each tool does ~12.7 TFLOP of convolutions. Extrapolated from a
# 1024x1024 smoke test (loaded machine): ~3 min for luojia, ~7 min for the
# script, plus ~1 min to generate the 1 GiB input once. Run it on a quiet
# machine.
#
# Checks (PASS/FAIL): luojia >= 2x faster end to end (script s / luojia s);
# luojia peak RSS <= 1/4 of the script's; class maps agree on >= 99.9% of
# the pixels valid in both (bench/compare_classmaps.py).
# Exit status: 0 when both tools ran and every check passes; 1 otherwise.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
PY=/usr/bin/python3

LUOJIA_BIN=${LUOJIA_BIN:-$REPO/build/examples}
BENCH_DIR=${LUOJIA_BENCH_DIR:-/tmp/luojia-bench}
OUT_PARENT=${LUOJIA_BENCH_OUT_DIR:-$BENCH_DIR}
SIZE=${LUOJIA_BENCH_SEG_SIZE:-8192}
TILE=${LUOJIA_BENCH_TILE:-512}
THREADS=${LUOJIA_BENCH_THREADS:-2}
MEM=${LUOJIA_BENCH_SEG_MEM:-1G}
REPEAT=${LUOJIA_BENCH_REPEAT:-1}
SCRIPT_CACHE=${LUOJIA_BENCH_SCRIPT_GDAL_CACHEMAX:-}
KEEP=${LUOJIA_BENCH_KEEP:-0}
GEN_VERSION=1                 # bump when the generated content changes (cache key)
WARM_SIZE=$((TILE + 40))      # 2x2 tiles, not a multiple of 16: exercises the border padding
TARGET_SPEEDUP=2
TARGET_RSS_FRACTION=0.25
TARGET_AGREEMENT=0.999

status=0
say() { printf '%s\n' "$*" >&2; }

for v in SIZE TILE THREADS REPEAT; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || { say "ERROR: $v must be a positive integer, not '${!v}'"; exit 1; }
done
if ((TILE % 16)); then
    say "ERROR: LUOJIA_BENCH_TILE must be a multiple of 16 (the network's pooling grid), not $TILE"
    exit 1
fi

# ---------------------------------------------------------------- install
if ! dpkg -s python3-rasterio >/dev/null 2>&1; then
    say "== installing python3-rasterio"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=900 python3-rasterio >&2 || {
        say "ERROR: could not install python3-rasterio (not root? run apt-get update first?)"
        exit 1
    }
fi
for mod in torch onnx rasterio osgeo.gdal numpy; do
    "$PY" -c "import $mod" 2>/dev/null || { say "ERROR: $PY cannot import $mod"; exit 1; }
done
[[ -x /usr/bin/time ]] || { say "ERROR: /usr/bin/time is missing (Debian package 'time')"; exit 1; }

# ---------------------------------------------------------------- setup
LUOJIA=""
if [[ -f $LUOJIA_BIN && -x $LUOJIA_BIN ]]; then
    LUOJIA=$LUOJIA_BIN
elif [[ -x $LUOJIA_BIN/luojia-segment ]]; then
    LUOJIA=$LUOJIA_BIN/luojia-segment
else
    say "WARNING: luojia-segment not found in $LUOJIA_BIN (set LUOJIA_BIN);"
    say "         the script alone cannot be compared, exit status will be 1"
    status=1
fi

mkdir -p "$BENCH_DIR" "$OUT_PARENT"
RUN_DIR=$(mktemp -d "$OUT_PARENT/luojia-segbench-run.XXXXXX")
LOGS=$RUN_DIR
# shellcheck disable=SC2317  # called through the trap
cleanup() {
    if [[ $KEEP == 1 ]]; then
        say "== kept $RUN_DIR"
    else
        rm -rf "$RUN_DIR"
    fi
}
trap cleanup EXIT

export OMP_NUM_THREADS=$THREADS MKL_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS
export GDAL_NUM_THREADS=$THREADS

say "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
load1=$(cut -d' ' -f1 /proc/loadavg)
if awk -v l="$load1" 'BEGIN { exit !(l > 0.5) }'; then
    say "WARNING: load average $load1: something else is running; timings will be disturbed"
fi

# ---------------------------------------------------------------- model
MODEL=$BENCH_DIR/unet16.onnx
MODEL_JSON=$BENCH_DIR/unet16.json
if [[ ! -s $MODEL || ! -s $MODEL_JSON || $HERE/make_unet16.py -nt $MODEL ]]; then
    say "== building $MODEL"
    tmpm=$(mktemp -d "$BENCH_DIR/.unet16.XXXXXX")
    if ! "$PY" "$HERE/make_unet16.py" "$tmpm/unet16.onnx" >"$LOGS/make_unet16.log" 2>&1; then
        say "ERROR: make_unet16.py failed:"
        tail -n 20 "$LOGS/make_unet16.log" >&2
        rm -rf "$tmpm"
        exit 1
    fi
    mv -f "$tmpm/unet16.json" "$MODEL_JSON"
    mv -f "$tmpm/unet16.onnx" "$MODEL"
    rmdir "$tmpm"
fi
read -r VARIANT GFLOP512 < <("$PY" -c '
import json, sys
m = json.load(open(sys.argv[1]))
print(m.get("variant", "?"), m["gflop"]["512"])' "$MODEL_JSON")

# ---------------------------------------------------------------- inputs
input_path() { echo "$BENCH_DIR/seg4_f32_${1}_v${GEN_VERSION}.tif"; }
# make_input N: the cached NxN input, generated if missing (atomically:
# written as .partial, renamed when complete)
make_input() {
    local n=$1 f need avail
    f=$(input_path "$n")
    [[ -s $f ]] && return 0
    need=$(( n * n * 17 / 1024 + 512 * 1024 ))   # input 16 B/px, class maps 1 B/px, slack
    avail=$(df -Pk "$BENCH_DIR" | awk 'NR==2 {print $4}')
    if (( avail < need )); then
        say "ERROR: not enough disk in $BENCH_DIR for ${n}x$n: need ${need} KB, have ${avail} KB"
        exit 1
    fi
    say "== generating ${n}x$n 4-band Float32 input (cached in $f)"
    "$PY" - "$n" "$f" "$GEN_VERSION" <<'PYEOF'
import os
import sys

import numpy as np
from osgeo import gdal, osr

size, out, version = int(sys.argv[1]), sys.argv[2], sys.argv[3]
BLOCK = 512
SEED = 20240


def hash01(px, py, salt):
    """Deterministic pseudo-random value in [0, 1) per integer cell (px, py)."""
    h = (px.astype(np.int64).astype(np.uint64) * np.uint64(73856093)) ^ (
        py.astype(np.int64).astype(np.uint64) * np.uint64(19349663)) ^ np.uint64(salt * 83492791)
    h ^= h >> np.uint64(13)
    h *= np.uint64(0x5BD1E995)
    h ^= h >> np.uint64(15)
    return (h % np.uint64(10007)).astype(np.float32) / np.float32(10007.0)


# Band signatures of six land-cover-like classes (rows: class; columns: band).
SIG = np.array([[-1.2, -1.0, -1.1, 1.4],    # vegetation
                [0.6, 0.7, 0.9, 0.4],       # bare soil
                [1.2, 1.1, 1.0, 0.9],       # built-up
                [-0.3, 0.2, -0.4, 1.0],     # grass
                [0.2, -0.5, 0.5, -0.6],     # rock
                [-0.8, 0.9, -0.2, -0.9]],   # wetland
               dtype=np.float32)
WATER = np.array([-1.5, -1.2, -1.6, -1.8], dtype=np.float32)


def make_block(x0, y0, w, h, rng):
    xs = np.arange(x0, x0 + w, dtype=np.float32)[None, :]
    ys = np.arange(y0, y0 + h, dtype=np.float32)[:, None]
    u, v = xs / np.float32(size), ys / np.float32(size)
    # Parcels of ~1/40 of the side (at least 24 px), sheared, each cell split
    # once more along a diagonal so the edges are not all axis-parallel.
    psize = max(24.0, size / 40.0)
    gx, gy = (xs + 0.2 * ys) / psize, (ys - 0.1 * xs) / psize
    px, py = np.floor(gx), np.floor(gy)
    fx, fy = gx - px, gy - py
    half = (fx + fy) > (0.6 + 0.8 * hash01(px, py, 3))
    cls = np.floor(6.0 * hash01(px + 1000.0 * half, py, 1)).astype(np.int64)
    cls = np.clip(cls, 0, 5)
    bright = 0.8 + 0.4 * hash01(px, py + 500.0 * half, 2)
    # smooth large-scale field (terrain / illumination)
    smooth = (0.35 * np.sin(6.0 * u + 1.0) * np.cos(4.0 * v)
              + 0.2 * np.sin(17.0 * (u + v)) + 0.1 * np.cos(31.0 * u - 7.0 * v))
    # a meandering river
    river_x = 0.5 + 0.08 * np.sin(9.0 * v)
    water = np.abs(u - river_x) < (0.006 + 0.003 * np.sin(23.0 * v))
    bands = SIG[cls].transpose(2, 0, 1) * bright[None] + smooth[None]      # (4, h, w)
    bands = np.broadcast_to(bands, (4, h, w)).copy()
    bands[:, np.broadcast_to(water, (h, w))] = WATER[:, None]
    bands += rng.normal(0.0, 0.08, size=(4, h, w)).astype(np.float32)
    return np.clip(bands, -2.5, 2.5).astype(np.float32)


gdal.UseExceptions()
gdal.SetCacheMax(64 * 1024 * 1024)
tmp = out + ".partial"
ds = gdal.GetDriverByName("GTiff").Create(tmp, size, size, 4, gdal.GDT_Float32, options=[
    "TILED=YES", f"BLOCKXSIZE={BLOCK}", f"BLOCKYSIZE={BLOCK}",
    "COMPRESS=NONE", "INTERLEAVE=PIXEL", "BIGTIFF=IF_SAFER"])
srs = osr.SpatialReference()
srs.ImportFromEPSG(32618)
ds.SetProjection(srs.ExportToWkt())
ds.SetGeoTransform((399960.0, 10.0, 0.0, 4500000.0, 0.0, -10.0))
for b, name in enumerate(("b1", "b2", "b3", "b4"), start=1):
    ds.GetRasterBand(b).SetDescription(name)
ds.SetMetadataItem("LUOJIA_BENCH_GENERATOR", f"segment_bench v{version} seed={SEED}")
nb = (size + BLOCK - 1) // BLOCK
for by in range(nb):
    for bx in range(nb):
        x0, y0 = bx * BLOCK, by * BLOCK
        w, h = min(BLOCK, size - x0), min(BLOCK, size - y0)
        rng = np.random.default_rng([SEED, size, by, bx])   # independent of the visit order
        data = make_block(x0, y0, w, h, rng)
        ds.WriteRaster(x0, y0, w, h, data.tobytes(), w, h, gdal.GDT_Float32, band_list=[1, 2, 3, 4])
    print(f"\r  input {size}x{size}: row {by + 1}/{nb}", end="", file=sys.stderr, flush=True)
print("", file=sys.stderr)
ds.FlushCache()
ds = None
os.replace(tmp, out)
PYEOF
}
make_input "$WARM_SIZE"
make_input "$SIZE"
IN=$(input_path "$SIZE")
WARM_IN=$(input_path "$WARM_SIZE")

# ---------------------------------------------------------------- tools
HALO=""   # set from luojia's warm-up run
# build_cmd TOOL IN OUT: sets the array CMD to the tool's command line
build_cmd() {
    local tool=$1 in=$2 out=$3
    case $tool in
    luojia)
        CMD=("$LUOJIA" -q --overwrite --threads "$THREADS" --mem "$MEM" --tile "$TILE"
             --halo auto "$in" "$MODEL" "$out") ;;
    script)
        CMD=("$PY" "$HERE/rasterio_segment.py" "$in" "$MODEL" "$out" --tile "$TILE"
             --overlap "$HALO" --threads "$THREADS") ;;
    *) say "unknown tool $tool"; exit 1 ;;
    esac
}
# env_for TOOL: the extra environment of a tool, as NAME=VALUE words for env
env_for() {
    if [[ $1 == script && -n $SCRIPT_CACHE ]]; then
        echo "GDAL_CACHEMAX=$SCRIPT_CACHE"
    fi
}

# timed TOOL IN OUT: runs TOOL REPEAT times under /usr/bin/time; sets T_SECS
# (fastest wall seconds), T_RSS (largest peak RSS, KB), T_ALL (every time).
# Returns 1 (after printing the tool's log) when the tool fails.
timed() {
    local tool=$1 in=$2 out=$3 i secs rss
    local tf=$RUN_DIR/$tool.time log=$RUN_DIR/$tool.log
    local -a envs
    T_SECS="" T_RSS=0 T_ALL=""
    build_cmd "$tool" "$in" "$out"
    read -r -a envs <<<"$(env_for "$tool")"
    for ((i = 1; i <= REPEAT; i++)); do
        rm -f "$out" "$out.aux.xml"
        cat "$in" >/dev/null
        sync
        if ! env "${envs[@]}" /usr/bin/time -f '%e %M' -o "$tf" "${CMD[@]}" >"$log" 2>&1; then
            say "ERROR: $tool failed on $in; its output:"
            tail -n 30 "$log" >&2
            [[ -s $tf ]] && tail -n 2 "$tf" >&2
            return 1
        fi
        read -r secs rss < <(tail -n 1 "$tf")
        T_ALL+="${T_ALL:+ }$secs"
        if [[ -z $T_SECS ]] || awk -v a="$secs" -v b="$T_SECS" 'BEGIN{exit !(a < b)}'; then
            T_SECS=$secs
        fi
        if ((rss > T_RSS)); then T_RSS=$rss; fi
    done
    return 0
}

# ---------------------------------------------------------------- warm-up, halo
declare -A FAILED=()
WARM_AGREE=""
if [[ -n $LUOJIA ]]; then
    say "== luojia-segment warm-up (untimed, ${WARM_SIZE}x$WARM_SIZE, without -q for its halo)"
    if "$LUOJIA" --overwrite --threads "$THREADS" --mem "$MEM" --tile "$TILE" --halo auto \
            "$WARM_IN" "$MODEL" "$RUN_DIR/warm_luojia.tif" >"$LOGS/warm_luojia.log" 2>&1; then
        line=$(tr '\r' '\n' <"$LOGS/warm_luojia.log" | grep -m1 'halo [0-9]* px' || true)
        say "   $line"
        HALO=$(sed -n 's/.*halo \([0-9]*\) px.*/\1/p' <<<"$line")
        if [[ -z $HALO ]]; then
            say "ERROR: no 'halo N px' in luojia-segment's output:"
            tail -n 20 "$LOGS/warm_luojia.log" >&2
            FAILED[luojia]=1
            status=1
        fi
    else
        say "ERROR: luojia-segment failed on the warm-up raster:"
        tail -n 30 "$LOGS/warm_luojia.log" >&2
        FAILED[luojia]=1
        status=1
    fi
else
    FAILED[luojia]=1
fi
if [[ -z $HALO ]]; then
    HALO=${LUOJIA_BENCH_HALO:-}
    if [[ -z $HALO ]]; then
        say "ERROR: no halo from luojia-segment (set LUOJIA_BENCH_HALO to run the script alone)"
        exit 1
    fi
    say "   halo $HALO px from LUOJIA_BENCH_HALO"
fi
if ((HALO % 16)); then
    say "ERROR: luojia-segment's halo $HALO is not a multiple of 16: the script cannot read the same windows"
    exit 1
fi

say "== rasterio script warm-up (untimed, ${WARM_SIZE}x$WARM_SIZE, overlap $HALO)"
build_cmd script "$WARM_IN" "$RUN_DIR/warm_script.tif"
read -r -a SENV <<<"$(env_for script)"
if ! env "${SENV[@]}" "${CMD[@]}" >"$LOGS/warm_script.log" 2>&1; then
    say "ERROR: rasterio_segment.py failed on the warm-up raster:"
    tail -n 30 "$LOGS/warm_script.log" >&2
    FAILED[script]=1
    status=1
fi
if [[ -z ${FAILED[luojia]:-} && -z ${FAILED[script]:-} ]]; then
    WARM_AGREE=$("$PY" "$HERE/compare_classmaps.py" --min "$TARGET_AGREEMENT" \
                 "$RUN_DIR/warm_luojia.tif" "$RUN_DIR/warm_script.tif" 2>&1 | head -n 1 || true)
    say "   warm-up $WARM_AGREE"
fi
rm -f "$RUN_DIR"/warm_*.tif "$RUN_DIR"/warm_*.tif.aux.xml

# ---------------------------------------------------------------- timing
TILES=$(( ((SIZE + TILE - 1) / TILE) ** 2 ))
say "== timing on ${SIZE}x$SIZE ($TILES tiles of $TILE px, halo $HALO, threads $THREADS, repeat $REPEAT)"
declare -A SECS=() RSS=() ALL=()
for t in luojia script; do
    [[ -n ${FAILED[$t]:-} ]] && continue
    say "   $t ..."
    if timed "$t" "$IN" "$RUN_DIR/$t.tif"; then
        SECS[$t]=$T_SECS RSS[$t]=$T_RSS ALL[$t]=$T_ALL
        say "   $t: ${T_SECS} s (runs: $T_ALL), peak RSS ${T_RSS} KB"
    else
        FAILED[$t]=1
        status=1
    fi
done

# ---------------------------------------------------------------- agreement
AGREE="" AGREE_OUT="" AGREE_OK=0
if [[ -n ${SECS[luojia]:-} && -n ${SECS[script]:-} ]]; then
    if AGREE_OUT=$("$PY" "$HERE/compare_classmaps.py" --min "$TARGET_AGREEMENT" \
                   "$RUN_DIR/luojia.tif" "$RUN_DIR/script.tif" 2>&1); then
        AGREE_OK=1
    fi
    AGREE=$(sed -n 's/^agreement \([0-9.]*\) .*/\1/p' <<<"$AGREE_OUT")
fi
[[ $KEEP == 1 ]] || rm -f "$RUN_DIR"/luojia.tif* "$RUN_DIR"/script.tif*

# ---------------------------------------------------------------- report
fmt() { awk -v x="$1" -v d="${2:-2}" 'BEGIN{ printf "%.*f", d, x }'; }
mb() { awk -v k="$1" 'BEGIN{ printf "%.1f", k / 1024 }'; }
ratio() {  # ratio A B -> A/B with 2 decimals, or n/a
    if [[ -n ${1:-} && -n ${2:-} ]] && awk -v b="$2" 'BEGIN{exit !(b > 0)}'; then
        awk -v a="$1" -v b="$2" 'BEGIN{ printf "%.2f", a / b }'
    else
        printf 'n/a'
    fi
}
verdict() { if [[ $1 == 1 ]]; then echo PASS; else echo FAIL; fi; }
declare -A LABEL=([luojia]="luojia-segment" [script]="rasterio + PyTorch script")
script_cache_mb=$(env "${SENV[@]}" "$PY" -c 'from osgeo import gdal; print(gdal.GetCacheMax() // 1048576)' 2>/dev/null || echo '?')
cache_note="GDAL_CACHEMAX=${SCRIPT_CACHE:-unset (GDAL default: 5% of RAM)}, i.e. a ${script_cache_mb} MB block cache"

echo
echo "### Segmentation ${SIZE}x$SIZE, 4-band Float32 -> Byte class map (U-Net16 $VARIANT, $GFLOP512 GFLOP per 512² tile)"
echo
echo "$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'); threads=$THREADS, tile=$TILE, halo=$HALO ($TILES tiles);" \
    "PyTorch $("$PY" -c 'import torch; print(torch.__version__)'), rasterio $("$PY" -c 'import rasterio; print(rasterio.__version__)')," \
    "$(gdalinfo --version 2>/dev/null | cut -d, -f1 || echo GDAL)"
echo
echo "| tool | seconds | peak RSS MB | ratio (s / luojia s) |"
echo "|---|---:|---:|---:|"
for t in luojia script; do
    if [[ -n ${SECS[$t]:-} ]]; then
        printf '| %s | %s | %s | %s |\n' "${LABEL[$t]}" "$(fmt "${SECS[$t]}")" "$(mb "${RSS[$t]}")" \
            "$(ratio "${SECS[$t]}" "${SECS[luojia]:-}")"
    else
        printf '| %s | failed/missing | n/a | n/a |\n' "${LABEL[$t]}"
    fi
done
echo

speedup=$(ratio "${SECS[script]:-}" "${SECS[luojia]:-}")
rssfrac=$(ratio "${RSS[luojia]:-}" "${RSS[script]:-}")
ok_speed=0 ok_rss=0
[[ $speedup != n/a ]] && awk -v r="$speedup" -v t="$TARGET_SPEEDUP" 'BEGIN{exit !(r >= t)}' && ok_speed=1
if [[ -n ${RSS[luojia]:-} && -n ${RSS[script]:-} ]] &&
    awk -v a="${RSS[luojia]}" -v b="${RSS[script]}" -v f="$TARGET_RSS_FRACTION" 'BEGIN{exit !(a <= f * b)}'; then
    ok_rss=1
fi
agree_pct=n/a
[[ -n $AGREE ]] && agree_pct=$(awk -v a="$AGREE" 'BEGIN{ printf "%.4f%%", 100 * a }')
echo "- luojia >= ${TARGET_SPEEDUP}x faster end to end: ${speedup}x (script s / luojia s): $(verdict $ok_speed)"
echo "- luojia peak RSS <= 1/4 of the script's: luojia/script = ${rssfrac}: $(verdict $ok_rss)"
echo "- class maps agree on >= $(awk -v t="$TARGET_AGREEMENT" 'BEGIN{ printf "%g%%", 100 * t }') of the pixels: ${agree_pct}: $(verdict $AGREE_OK)"
[[ -n $WARM_AGREE ]] && echo "- (warm-up ${WARM_SIZE}x$WARM_SIZE, reflect-padded border: $WARM_AGREE)"
((ok_speed && ok_rss && AGREE_OK)) || status=1
if [[ -n $AGREE_OUT ]]; then
    echo
    echo '```'
    printf '%s\n' "$AGREE_OUT"
    echo '```'
fi
echo
echo "Commands (IN = ${IN##*/}, MODEL = ${MODEL##*/}):"
echo
for t in luojia script; do
    build_cmd "$t" IN OUT.tif
    CMD=("${CMD[@]/#$MODEL/MODEL.onnx}")
    # shellcheck disable=SC2016  # the backquotes are markdown
    printf -- '- %s: `%s`\n' "$t" "$(printf '%q ' "${CMD[@]}" | sed 's/ $//')"
done
echo "- env: OMP_NUM_THREADS=$OMP_NUM_THREADS MKL_NUM_THREADS=$MKL_NUM_THREADS OPENBLAS_NUM_THREADS=$OPENBLAS_NUM_THREADS" \
    "GDAL_NUM_THREADS=$GDAL_NUM_THREADS; script: $cache_note; warm page cache (cat IN), best of $REPEAT run(s)," \
    "/usr/bin/time -f '%e %M' (wall s, peak RSS)"
if ((REPEAT > 1)); then
    echo "- every run's seconds: luojia ${ALL[luojia]:-n/a}; script ${ALL[script]:-n/a}"
fi

exit "$status"
