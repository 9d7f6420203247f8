#!/usr/bin/env bash
# The README's second command: install what is missing, build, and run the whole test suite.
# qgis (qgis_process) is installed for the QGIS provider test, python3-pytest and python3-geopandas for the Python module's.
# The test build includes the MPI programs (LUOJIA_MPI, off by default for users), so that
# mpirun -np 3 is checked against one process.
#   LUOJIA_TEST_EXCLUDE  a ctest -E regex of tests to leave out (CI uses it for the portable rebuild,
#                        which its sanitizer stage covers)
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh libopenmpi-dev openmpi-bin qgis python3-qgis python3-pytest python3-geopandas
tools/build.sh -DLUOJIA_MPI=ON
cd "${LUOJIA_BUILD_DIR:-build}"
ctest --output-on-failure -j "$(nproc)" ${LUOJIA_TEST_EXCLUDE:+-E "$LUOJIA_TEST_EXCLUDE"}
