#!/usr/bin/env bash
# The README's first command: install what is missing, build, and run the main job on the
# bundled sample. Products go to ${LUOJIA_OUT:-out}/.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
tools/build.sh >/dev/null
out=${LUOJIA_OUT:-out}
mkdir -p "$out"
bin=${LUOJIA_BUILD_DIR:-build}/examples
# Landsat 7 ETM+ over Olinda, Brazil: bands 1,2,3,4,5,7, so red is 3, near infrared 4, SWIR-1 5.
"$bin/luojia-index" --overwrite data/L7_ETMs.tif "$out/L7_ETMs_indices.tif" \
  --index ndvi,ndwi,mndwi,ndbi --green 2 --red 3 --nir 4 --swir 5
echo "products:"
echo "  $(realpath "$out/L7_ETMs_indices.tif")  (bands: NDVI, NDWI, MNDWI, NDBI; Float32, nodata -9999)"
