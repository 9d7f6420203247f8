#!/usr/bin/env bash
# The README's second command: install what is missing, build, and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
tools/build.sh
cd "${LUOJIA_BUILD_DIR:-build}"
ctest --output-on-failure -j "$(nproc)"
