#!/usr/bin/env bash
# The QGIS Processing provider (qgis/luojia), headless through Debian's qgis_process: each
# algorithm run on the bundled data gives what the program gives when run directly; a bad input
# comes back as a QGIS error carrying luojia's one-line message; nothing is left behind.
#   qgis_provider_test.sh SOURCE_DIR PROGRAMS_DIR
set -euo pipefail
src=$1
bin=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export HOME=$work/home XDG_RUNTIME_DIR=$work/run QT_QPA_PLATFORM=offscreen QGIS_PLUGINPATH=$src/qgis LUOJIA_BIN=$bin
mkdir -p "$HOME" "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
# Debian 12's /usr/bin/qgis_process wrapper passes --noversioncheck, which qgis_process.bin refuses.
qp=qgis_process
[ -x /usr/bin/qgis_process.bin ] && qp=/usr/bin/qgis_process.bin
fail() { echo "FAIL: $*" >&2; exit 1; }
checksum() { gdalinfo -checksum "$1" | sed -n 's/.*Checksum=\([0-9]*\).*/\1/p' | tr '\n' ' '; }
features() { ogrinfo -ro -so -al "$1" | sed -n 's/^Feature Count: //p'; }

"$qp" plugins enable luojia >/dev/null 2>&1 || fail "the plugin does not enable"
"$qp" list 2>/dev/null | grep -q "luojia:segment" || fail "luojia:segment is not listed"
for a in segment detect index classify change stereo regress superres assess; do
  "$qp" help "luojia:$a" >/dev/null 2>&1 || fail "no help for luojia:$a"
done

# Segmentation of the quick start's sample: class map and polygons as luojia-segment makes them.
"$qp" run luojia:segment -- INPUT="$src/data/road_mask_input.tif" MODEL="$src/data/demo_roads.onnx" \
  OUTPUT="$work/q_roads.tif" VECTOR="$work/q_roads.gpkg" TILE=256 > "$work/segment.log" 2>&1 || { cat "$work/segment.log"; fail "segment"; }
"$bin/luojia-segment" -q --tile 256 --vector "$work/roads.gpkg" "$src/data/road_mask_input.tif" "$src/data/demo_roads.onnx" "$work/roads.tif" >/dev/null
[ "$(checksum "$work/q_roads.tif")" = "$(checksum "$work/roads.tif")" ] || fail "segment class map differs"
[ "$(features "$work/q_roads.gpkg")" = "$(features "$work/roads.gpkg")" ] || fail "segment polygons differ"
grep -q "exact" "$work/segment.log" || fail "the program's summary does not reach QGIS's log"

# Options beyond the main ones come from the program's own table: an enum (PROBABILITIES_TYPE,
# index 1 = Byte) and a repeatable option (-co, values separated by |).
"$qp" run luojia:segment -- INPUT="$src/data/road_mask_input.tif" MODEL="$src/data/demo_roads.onnx" \
  OUTPUT="$work/q_roads2.tif" PROBABILITIES="$work/q_prob.tif" PROBABILITIES_TYPE=1 CO="COMPRESS=DEFLATE|PREDICTOR=2" TILE=256 \
  > "$work/advanced.log" 2>&1 || { cat "$work/advanced.log"; fail "segment with advanced options"; }
"$bin/luojia-segment" -q --tile 256 --probabilities "$work/prob.tif" --probabilities-type Byte -co COMPRESS=DEFLATE -co PREDICTOR=2 \
  "$src/data/road_mask_input.tif" "$src/data/demo_roads.onnx" "$work/roads2.tif" >/dev/null
[ "$(checksum "$work/q_prob.tif")" = "$(checksum "$work/prob.tif")" ] || fail "probabilities differ"
gdalinfo "$work/q_prob.tif" | grep -q "Type=Byte" || fail "PROBABILITIES_TYPE did not reach the program"
gdalinfo "$work/q_prob.tif" | grep -q "COMPRESSION=DEFLATE" || fail "CO did not reach the program"

# Indices.
"$qp" run luojia:index -- INPUT="$src/data/L7_ETMs.tif" OUTPUT="$work/q_idx.tif" INDEX=NDVI,NBR BANDS=B=1,G=2,R=3,N=4,S1=5,S2=6 \
  > "$work/index.log" 2>&1 || { cat "$work/index.log"; fail "index"; }
"$bin/luojia-index" -q "$src/data/L7_ETMs.tif" "$work/idx.tif" --index NDVI,NBR --bands B=1,G=2,R=3,N=4,S1=5,S2=6 >/dev/null
[ "$(checksum "$work/q_idx.tif")" = "$(checksum "$work/idx.tif")" ] || fail "index differs"

# Detection on the demo detector's scene.
"$qp" run luojia:detect -- INPUT="$src/data/spacenet4_atlanta.tif" MODEL="$src/data/demo_buildings.onnx" \
  OUTPUT="$work/q_boxes.gpkg" > "$work/detect.log" 2>&1 || { cat "$work/detect.log"; fail "detect"; }
"$bin/luojia-detect" -q "$src/data/spacenet4_atlanta.tif" "$src/data/demo_buildings.onnx" "$work/boxes.gpkg" >/dev/null
[ "$(features "$work/q_boxes.gpkg")" = "$(features "$work/boxes.gpkg")" ] || fail "detections differ"
# Instance segmentation: footprint polygons and the instance-id raster.
"$qp" run luojia:detect -- INPUT="$src/data/spacenet4_atlanta.tif" MODEL="$src/data/demo_footprints.onnx" \
  OUTPUT="$work/q_fp.gpkg" INSTANCE_RASTER="$work/q_ids.tif" > "$work/instances.log" 2>&1 || { cat "$work/instances.log"; fail "instances"; }
"$bin/luojia-detect" -q "$src/data/spacenet4_atlanta.tif" "$src/data/demo_footprints.onnx" "$work/fp.gpkg" --instance-raster "$work/ids.tif" >/dev/null
[ "$(features "$work/q_fp.gpkg")" = "$(features "$work/fp.gpkg")" ] || fail "instances differ"
[ "$(checksum "$work/q_ids.tif")" = "$(checksum "$work/ids.tif")" ] || fail "instance rasters differ"

# Assessment: the JSON report.
"$qp" run luojia:assess -- CLASS_MAP="$work/roads.tif" REFERENCE="$src/data/sample_road_raster_mask.tif" REMAP=255=1 \
  OUTPUT="$work/q_assess.json" > "$work/assess.log" 2>&1 || { cat "$work/assess.log"; fail "assess"; }
grep -q '"overall_accuracy"' "$work/q_assess.json" || fail "assess wrote no report"

# A bad input: a QGIS error with luojia's message, exit non-zero, no output.
if "$qp" run luojia:segment -- INPUT="$src/data/road_mask_input.tif" MODEL="$src/data/demo_roads.onnx" BANDS=9 \
     OUTPUT="$work/bad.tif" > "$work/bad.log" 2>&1; then
  fail "a bad band was accepted"
fi
grep -q "luojia-segment: error: .*band 9" "$work/bad.log" || { cat "$work/bad.log"; fail "the error does not carry luojia's message"; }
[ ! -e "$work/bad.tif" ] || fail "a failed run left its output"
ls -a "$work" | grep -q '\.luojia-' && fail "a temporary file was left"
echo "QGIS provider: 9 algorithms listed; segment (advanced options too), index, detect (boxes and instances), assess equal the programs; errors reach QGIS"
