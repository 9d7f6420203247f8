#!/usr/bin/env bash
# The README's first command: install what is missing, build, install luojia (programs, library,
# CMake package, Python module) under /usr/local when run as root, and run the main job: segment
# the bundled SpaceNet scene with the bundled road model. Products go to ${LUOJIA_OUT:-out}/.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
tools/build.sh >/dev/null
out=${LUOJIA_OUT:-out}
mkdir -p "$out"
bin=${LUOJIA_BUILD_DIR:-build}/examples
"$bin/luojia-segment" --overwrite data/road_mask_input.tif data/demo_roads.onnx "$out/roads.tif" \
  --probabilities "$out/roads_probabilities.tif" --vector "$out/roads.gpkg" --min-area 50px >/dev/null
if [ "$(id -u)" -eq 0 ]; then
  cmake --install "${LUOJIA_BUILD_DIR:-build}" >/dev/null
  installed="installed under /usr/local: luojia-* on PATH, find_package(luojia), /usr/bin/python3 -c 'import luojia'"
else
  installed="not installed (not root): PYTHONPATH=${LUOJIA_BUILD_DIR:-build}/python /usr/bin/python3 -c 'import luojia'"
fi
echo "luojia $installed"
echo "products:"
echo "  $(realpath "$out/roads.tif")  (class map: 0 background, 1 road, 255 nodata; colour table and class names)"
echo "  $(realpath "$out/roads_probabilities.tif")  (probability of each class, Float32)"
echo "  $(realpath "$out/roads.gpkg")  (road and background polygons with class, area and mean confidence)"
