#!/usr/bin/env bash
# Installs the Debian packages luojia builds and tests with, and any given as arguments (the
# sanitizer stage adds clang and libFuzzer); does nothing when all are there.
# Runs apt-get as root (directly, or through sudo when that exists).
set -euo pipefail
packages=(cmake g++ make pkg-config libgdal-dev libeigen3-dev libtbb-dev catch2 gdal-bin libonnx-dev libprotobuf-dev protobuf-compiler nlohmann-json3-dev
          pybind11-dev python3-dev python3-numpy proj-data "$@")
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}" >&2
as_root=()
[ "$(id -u)" -eq 0 ] || as_root=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
