#!/usr/bin/env bash
# The Debian package of this build (cpack -G DEB): its contents and declared dependencies, then its
# files run where dpkg would put them (unpacked under a scratch root): a program, `import luojia`,
# a task from Python on the packaged sample data, and the CMake package's presence.
#   deb_package_test.sh BUILD_DIR WORK_DIR PYTHON
set -euo pipefail
build=$1 work=$2 python=$3
rm -rf "$work"
mkdir -p "$work"
cpack -G DEB --config "$build/CPackConfig.cmake" -B "$work" >"$work/cpack.log" 2>&1 || { cat "$work/cpack.log"; exit 1; }
deb=$(ls "$work"/luojia_*.deb)
contents=$(dpkg-deb -c "$deb" | awk '{print $6}')
fail() { echo "deb package: $*" >&2; exit 1; }
version=$("$python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
for f in ./usr/bin/luojia-segment ./usr/bin/luojia-detect ./usr/bin/luojia-info ./usr/include/luojia/luojia.hpp \
         ./usr/share/luojia/qgis/luojia/__init__.py ./usr/share/luojia/data/demo_roads.onnx \
         ./usr/share/luojia/data/README.md ./usr/lib/python$version/dist-packages/luojia/__init__.py; do
  grep -qx "$f" <<<"$contents" || fail "lacks $f"
done
grep -qE "^\./usr/lib/(.*/)?libluojia\.a$" <<<"$contents" || fail "lacks the library"
grep -qE "^\./usr/lib/(.*/)?cmake/luojia/luojiaConfig\.cmake$" <<<"$contents" || fail "lacks the CMake package"
grep -qE "^\./usr/lib/python$version/dist-packages/luojia/_luojia\..*\.so$" <<<"$contents" || fail "lacks the Python extension"
! grep -qE "^\./usr/bin/(custom_layer|segment_many)$" <<<"$contents" || fail "puts the examples on PATH"
depends=$(dpkg-deb -f "$deb" Depends)
for d in libgdal libtbb libprotobuf libonnx python3-numpy "python3 (>= $version)"; do
  grep -qF "$d" <<<"$depends" || fail "does not depend on $d: $depends"
done
# The files as installed: unpack and run them from there.
root="$work/root"
dpkg-deb -x "$deb" "$root"
"$root/usr/bin/luojia-info" --version | grep -q luojia || fail "luojia-info does not run"
"$root/usr/bin/luojia-segment" -q "$root/usr/share/luojia/data/road_mask_input.tif" "$root/usr/share/luojia/data/demo_roads.onnx" \
  "$work/roads.tif" --tile 512
PYTHONPATH="$root/usr/lib/python$version/dist-packages" PYTHONDONTWRITEBYTECODE=1 "$python" - "$root" "$work" <<'PY'
import sys, numpy, luojia
root, work = sys.argv[1], sys.argv[2]
assert luojia.__file__.startswith(root), luojia.__file__
data = root + "/usr/share/luojia/data/"
report = luojia.segment(data + "road_mask_input.tif", data + "demo_roads.onnx", work + "/roads_py.tif", tile=512)
a, _ = luojia.read_raster(work + "/roads.tif")
b, _ = luojia.read_raster(work + "/roads_py.tif")
assert numpy.array_equal(a, b) and report.exact
print("packaged luojia", luojia.__version__, "from", luojia.__file__)
PY
echo "deb package: $(basename "$deb") ok ($(du -h "$deb" | cut -f1))"
