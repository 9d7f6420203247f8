#!/usr/bin/env bash
# Ten catalogue indices in one run: luojia-index (one call, each band read once per tile) vs
# gdal_calc.py (one call per index, as a GIS script does it) vs OTB RadiometricIndices (one call
# with the ten in its -list), same 8192x8192 6-band UInt16 tiled GeoTIFF, same threads, warm page
# cache; and NDVI alone against the I/O floor (gdal_translate of one band to Float32).
#
# Usage: bench/index_catalogue_bench.sh     (as root the first time: installs otb-bin gdal-bin
#                                            python3-gdal python3-numpy time)
#
# The ten: NDVI SAVI MSAVI GEMI IPVI NDWI MNDWI NDMI NDTI SR; OTB's names for them:
# Vegetation:NDVI SAVI MSAVI2 GEMI IPVI RVI, Water:NDWI2 (McFeeters) MNDWI NDWI (Gao = NDMI) NDTI.
# gdal_calc evaluates the catalogue's formula with numpy in float32 (symbols cast from UInt16).
# Bands: 1 blue, 2 green, 3 red, 4 NIR, 5 SWIR1, 6 SWIR2. Values are raw DNs (no scale): the
# benchmark is about time, every tool computes the same formulas on the same numbers.
#
# Environment: LUOJIA_BIN (dir of luojia-index), LUOJIA_BENCH_DIR (default /tmp/luojia-bench),
# LUOJIA_BENCH_SIZE (8192), LUOJIA_BENCH_THREADS (2), LUOJIA_BENCH_RAM_MB (256).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
bin=${LUOJIA_BIN:-$root/build/examples}
work=${LUOJIA_BENCH_DIR:-/tmp/luojia-bench}
size=${LUOJIA_BENCH_SIZE:-8192}
threads=${LUOJIA_BENCH_THREADS:-2}
ram=${LUOJIA_BENCH_RAM_MB:-256}
PY=/usr/bin/python3
for pkg in otb-bin gdal-bin python3-gdal python3-numpy time; do
  dpkg -s "$pkg" >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$pkg" >&2
done
export GDAL_NUM_THREADS=$threads ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS=$threads OMP_NUM_THREADS=$threads
export OTB_MAX_RAM_HINT=$ram GDAL_CACHEMAX=$ram OTB_LOGGER_LEVEL=WARNING
mkdir -p "$work"
run=$(mktemp -d "$work/index-catalogue.XXXXXX")
trap 'rm -rf "$run"' EXIT

input=$work/ms6_u16_${size}.tif
if [ ! -f "$input" ]; then
  echo "== making $input" >&2
  "$PY" - "$size" "$input" <<'EOF'
import os, sys
import numpy as np
from osgeo import gdal, osr
size, out = int(sys.argv[1]), sys.argv[2]
ds = gdal.GetDriverByName("GTiff").Create(out + ".part", size, size, 6, gdal.GDT_UInt16,
                                          ["TILED=YES", "BLOCKXSIZE=512", "BLOCKYSIZE=512"])
srs = osr.SpatialReference(); srs.ImportFromEPSG(32650)
ds.SetProjection(srs.ExportToWkt()); ds.SetGeoTransform((431000, 10, 0, 3381000, 0, -10))
rng = np.random.default_rng(6)
base = (800, 1000, 900, 3000, 2000, 1200)
for by in range(0, size, 512):
    y = np.arange(by, min(by + 512, size))[:, None]
    x = np.arange(size)[None, :]
    field = np.sin(x / 97.0) * np.cos(y / 61.0)
    for b in range(6):
        v = base[b] * (1 + 0.6 * field * (1 if b == 3 else -0.5)) + rng.normal(0, 60, (len(y), size))
        ds.GetRasterBand(b + 1).WriteArray(np.clip(v, 1, 65535).astype(np.uint16), 0, by)
ds = None
os.rename(out + ".part", out)
EOF
fi

names=(NDVI SAVI MSAVI GEMI IPVI NDWI MNDWI NDMI NDTI SR)
otb_list="Vegetation:NDVI Vegetation:SAVI Vegetation:MSAVI2 Vegetation:GEMI Vegetation:IPVI Water:NDWI2 Water:MNDWI Water:NDWI Water:NDTI Vegetation:RVI"
idx_list=$(IFS=,; echo "${names[*]}")

timed() {  # label command...: appends "seconds rss_kb" to $run/$label.t
  local label=$1; shift
  cat "$input" >/dev/null; sync
  /usr/bin/time -f '%e %M' -a -o "$run/$label.t" "$@" >/dev/null 2>"$run/$label.err" || { cat "$run/$label.err" >&2; exit 1; }
}
sum() { awk '{s += $1; if ($2 > m) m = $2} END {printf "%.2f %d\n", s, m}' "$run/$1.t"; }

echo "== warm-up" >&2
"$bin/luojia-index" -q --overwrite "$input" "$run/w.tif" --index NDVI --bands R=3,N=4 --threads "$threads" >/dev/null
rm -f "$run/w.tif"

echo "== luojia-index, ten indices in one call" >&2
timed luojia "$bin/luojia-index" -q --overwrite --threads "$threads" --mem "${ram}M" -co TILED=YES "$input" "$run/luojia.tif" \
  --index "$idx_list" --bands B=1,G=2,R=3,N=4,S1=5,S2=6
echo "== OTB RadiometricIndices, ten indices in one call" >&2
# shellcheck disable=SC2086
timed otb otbcli_RadiometricIndices -progress false -in "$input" -out "$run/otb.tif?&gdal:co:TILED=YES" float -ram "$ram" \
  -channels.blue 1 -channels.green 2 -channels.red 3 -channels.nir 4 -channels.mir 5 -list $otb_list
echo "== gdal_calc.py, one call per index" >&2
for n in "${names[@]}"; do
  expr=$("$PY" - "$n" "$root/data/spectral-indices/spectral-indices-dict.json" <<'EOF'
import json, re, sys
name, path = sys.argv[1], sys.argv[2]
e = json.load(open(path))["SpectralIndices"][name]
letters = {"B": "A", "G": "B", "R": "C", "N": "D", "S1": "E", "S2": "F"}
consts = {"L": "1.0"}
def sub(m):
    s = m.group(0)
    if s in letters: return letters[s] + ".astype(float32)"
    return consts.get(s, s)
print(re.sub(r"\b[A-Za-z_][A-Za-z0-9_]*\b", sub, e["formula"]))
EOF
)
  bands=()
  for L in A B C D E F; do bands+=(-"$L" "$input" --"${L}"_band=$(( $(printf '%d' "'$L") - 64 ))); done
  # only the bands the formula names: gdal_calc reads every -X it is given
  used=()
  for ((k = 0; k < ${#bands[@]}; k += 3)); do
    L=${bands[k]#-}
    [[ $expr == *"$L.astype"* ]] && used+=("${bands[k]}" "${bands[k+1]}" "${bands[k+2]}")
  done
  timed calc gdal_calc.py --quiet "${used[@]}" "--calc=$expr" --type=Float32 --NoDataValue=-9999 --co TILED=YES \
    --outfile "$run/calc_$n.tif" --overwrite
  rm -f "$run/calc_$n.tif"
done
echo "== NDVI alone: luojia-index vs the I/O floor (gdal_translate -b 3 -ot Float32)" >&2
for _ in 1 2 3; do
  timed ndvi "$bin/luojia-index" -q --overwrite --threads "$threads" --mem "${ram}M" -co TILED=YES "$input" "$run/ndvi.tif" --index NDVI --bands R=3,N=4
  timed floor gdal_translate -q -b 3 -ot Float32 -co TILED=YES "$input" "$run/floor.tif"
done
best() { sort -n "$run/$1.t" | head -1; }

read -r l_s l_kb < <(sum luojia)
read -r o_s o_kb < <(sum otb)
read -r c_s c_kb < <(sum calc)
read -r n_s n_kb < <(best ndvi)
read -r f_s f_kb < <(best floor)
cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
isa=$(grep -o -w -m1 'avx512f' /proc/cpuinfo || grep -o -w -m1 'avx2' /proc/cpuinfo || echo sse)
echo "ten indices ($idx_list) on ${size}x${size}x6 UInt16, $threads threads, ${ram} MB, $cpu ($isa)"
printf '| %-44s | %8s | %9s | %11s |\n' tool seconds "x luojia" "peak RSS MB"
printf '|---|---:|---:|---:|\n'
row() { printf '| %-44s | %8.2f | %9.2f | %11.0f |\n' "$1" "$2" "$(echo "$2 / $l_s" | bc -l)" "$(echo "$3 / 1024" | bc -l)"; }
row "luojia-index (one call)" "$l_s" "$l_kb"
row "otbcli_RadiometricIndices (one call)" "$o_s" "$o_kb"
row "gdal_calc.py (ten calls, summed; RSS: max)" "$c_s" "$c_kb"
echo "targets: >= 5x gdal_calc: $(echo "$c_s / $l_s" | bc -l | cut -c1-5)x; >= 2x OTB: $(echo "$o_s / $l_s" | bc -l | cut -c1-5)x"
echo "NDVI alone: luojia $n_s s ($((n_kb / 1024)) MB), I/O floor $f_s s: $(echo "$n_s / $f_s" | bc -l | cut -c1-5)x the floor (target <= 1.3), best of 3"
