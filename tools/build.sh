#!/usr/bin/env bash
# Configures and builds luojia (Release with assertions) into ${LUOJIA_BUILD_DIR:-build}.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${LUOJIA_BUILD_DIR:-build}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DLUOJIA_ASSERTIONS=ON "$@" >/dev/null
cmake --build "$build" -j "$(nproc)"
