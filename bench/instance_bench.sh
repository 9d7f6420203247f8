#!/usr/bin/env bash
# Instance segmentation benchmark: luojia-detect with a YOLOv8-seg-style model vs a SAHI-style
# sliced Python script (bench/sahi_instances.py: rasterio windows of 512 with 20% overlap,
# PyTorch, Ultralytics' retina masks per slice, torchvision batched_nms over the raster), same
# model, same raster, same thread count, CPU only; and both against the whole-image reference
# (the raster as one network input, masks from the formulas), counting instances equal to the
# reference's (mask IoU >= 0.99), and one to one at mask IoU 0.5 the instances each has that the
# reference does not (duplicates, instances cut at slice borders) and the reference's it misses.
#
# Usage: bench/instance_bench.sh   (as root the first time: installs python3-rasterio,
#                                   python3-torchvision if missing)
#
#   model   tests/data/detection/instances/$LUOJIA_BENCH_SEG_MODEL.onnx (default seg_no_neck;
#           tools/make_instance_sweep.py: YOLOv8-seg-style, DFL head, strides 8/16/32, Proto at
#           stride 4); the script rebuilds the same network from that file's generator and seed.
#   input   the detection bench's SxS 3-band Byte GeoTIFF (made as bench/detect_bench.sh makes
#           it: every 512 block a make_detection_models.make_image of its own seed).
#   luojia  luojia-detect -q --overwrite --threads T --tile TILE IN MODEL OUT.gpkg --pixel-boxes OUT.json
#   script  sahi_instances.py slices IN MODEL OUT.json --slice TILE --overlap 0.2 --threads T
# Timing: /usr/bin/time -f '%e %M' of the whole process, warm page cache.
#
# Environment: LUOJIA_BIN, LUOJIA_BENCH_DIR, LUOJIA_BENCH_DET_SIZE (8192), LUOJIA_BENCH_TILE (512),
# LUOJIA_BENCH_THREADS (2), LUOJIA_BENCH_SEG_MODEL (seg_no_neck).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
bin=${LUOJIA_BIN:-$root/build/examples}
work=${LUOJIA_BENCH_DIR:-/tmp/luojia-bench}
size=${LUOJIA_BENCH_DET_SIZE:-8192}
tile=${LUOJIA_BENCH_TILE:-512}
threads=${LUOJIA_BENCH_THREADS:-2}
name=${LUOJIA_BENCH_SEG_MODEL:-seg_no_neck}
PY=/usr/bin/python3
model=$root/tests/data/detection/instances/$name.onnx
mkdir -p "$work"
for pkg in python3-rasterio python3-torchvision python3-gdal; do
  dpkg -s "$pkg" >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$pkg" >&2
done
export OMP_NUM_THREADS=$threads MKL_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads

input=$work/detect_${size}.tif
if [ ! -f "$input" ]; then
  echo "== making $input" >&2
  LUOJIA_ROOT=$root "$PY" - "$size" "$input" <<'EOF'
import os, sys
import numpy as np, rasterio
from rasterio.transform import from_origin
from rasterio.windows import Window
sys.path.insert(0, os.path.join(os.environ["LUOJIA_ROOT"], "tools"))
import make_detection_models as m
size, out = int(sys.argv[1]), sys.argv[2]
profile = dict(driver="GTiff", width=size, height=size, count=3, dtype="uint8", crs="EPSG:32650",
               transform=from_origin(431000, 3381000 + size * 0.5, 0.5, 0.5), tiled=True, blockxsize=512, blockysize=512)
with rasterio.open(out + ".part", "w", **profile) as dst:
    for by in range(0, size, 512):
        for bx in range(0, size, 512):
            h, w = min(512, size - by), min(512, size - bx)
            dst.write(m.make_image(f"b{bx}_{by}", h, w), window=Window(bx, by, w, h))
os.rename(out + ".part", out)
EOF
fi

timed() {  # label, command...: prints "seconds rss_kb"
  local label=$1; shift
  cat "$input" >/dev/null; sync
  /usr/bin/time -f '%e %M' -o "$work/time_$label" "$@" >/dev/null 2>"$work/err_$label" || { cat "$work/err_$label" >&2; exit 1; }
  cat "$work/time_$label"
}

echo "== whole-image reference (untimed)" >&2
[ -f "$work/seg_whole_${name}_${size}.json" ] || "$PY" "$here/sahi_instances.py" whole "$input" "$name" "$work/seg_whole_${name}_${size}.json" >&2
# Warm-up: binaries, libraries, Python modules.
"$bin/luojia-detect" -q --overwrite "$input" "$model" "$work/warm.gpkg" --tile "$tile" --threads "$threads" >/dev/null
read -r l_s l_kb < <(timed luojia "$bin/luojia-detect" -q --overwrite --threads "$threads" --tile "$tile" "$input" "$model" \
  "$work/seg_luojia.gpkg" --pixel-boxes "$work/seg_luojia_coco.json")
read -r p_s p_kb < <(timed script "$PY" "$here/sahi_instances.py" slices "$input" "$name" "$work/seg_script.json" --slice "$tile" --overlap 0.2 --threads "$threads")
# The same with 25% overlap: slices 384 apart, a multiple of the largest stride, so the anchor
# grids of the slices line up with the whole image's and only the borders differ.
read -r a_s a_kb < <(timed aligned "$PY" "$here/sahi_instances.py" slices "$input" "$name" "$work/seg_aligned.json" --slice "$tile" --overlap 0.25 --threads "$threads")
"$PY" "$here/sahi_instances.py" coco "$work/seg_luojia_coco.json" "$work/seg_luojia.json"
l_cmp=$("$PY" "$here/sahi_instances.py" compare "$work/seg_luojia.json" "$work/seg_whole_${name}_${size}.json")
p_cmp=$("$PY" "$here/sahi_instances.py" compare "$work/seg_script.json" "$work/seg_whole_${name}_${size}.json")
a_cmp=$("$PY" "$here/sahi_instances.py" compare "$work/seg_aligned.json" "$work/seg_whole_${name}_${size}.json")
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')
isa=$(grep -m1 -o -w 'avx512f' /proc/cpuinfo || grep -m1 -o -w 'avx2' /proc/cpuinfo || echo sse)
echo "instances ${size}x${size}x3 Byte, $name, tile $tile, $threads threads, $cpu ($isa)"
printf '  luojia-detect  %7.2f s  %7.0f MB  %s\n' "$l_s" "$((l_kb / 1024))" "$l_cmp"
printf '  SAHI-style     %7.2f s  %7.0f MB  %s\n' "$p_s" "$((p_kb / 1024))" "$p_cmp"
printf '  ... 25%% ovl   %7.2f s  %7.0f MB  %s\n' "$a_s" "$((a_kb / 1024))" "$a_cmp"
"$PY" - "$l_s" "$p_s" "$l_kb" "$p_kb" <<'EOF'
import sys
ls, ps, lk, pk = map(float, sys.argv[1:])
print(f"  speed: luojia {ps / ls:.2f}x the script (target >= 3x); memory: {lk / pk:.2f} of the script's (target <= 0.25)")
EOF
