# The Debian package: `cpack -G DEB` in a build folder makes luojia_VERSION_ARCH.deb holding what
# `cmake --install` installs (library, headers, CMake package, programs, Python module, QGIS
# provider, the sample data and demo models). Its runtime dependencies are found by dpkg-shlibdeps
# from the binaries; the Python side and the build dependencies of find_package(luojia) are named here.
# Build it portable, as a distribution ships binaries (the kernels dispatch on the CPU at run time):
#   cmake -S . -B build-deb -DLUOJIA_NATIVE=OFF -DCMAKE_INSTALL_PREFIX=/usr && cmake --build build-deb -j
#   (cd build-deb && cpack -G DEB)
if(LUOJIA_NATIVE)
  message(STATUS "luojia: a package made from this build runs only on CPUs like this one (LUOJIA_NATIVE=ON)")
endif()

install(DIRECTORY ${PROJECT_SOURCE_DIR}/data/ DESTINATION ${CMAKE_INSTALL_DATADIR}/luojia/data
        PATTERN spectral-indices EXCLUDE)

set(CPACK_PACKAGE_NAME luojia)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Remote sensing image interpretation on whole scenes: ONNX models, tiled exactly, georeferenced products")
set(CPACK_PACKAGE_DESCRIPTION
  "luojia reads large geospatial rasters through GDAL, runs ONNX neural networks and other kernels over
tiles with an exact halo, and writes georeferenced products: class maps, probabilities, detections,
instances, index rasters, change maps, DSMs and polygons. This package holds the programs
(luojia-segment, luojia-detect, ...), the C++ library with its CMake package (find_package(luojia)),
the Python module (import luojia) and the QGIS Processing provider.")
set(CPACK_PACKAGE_CONTACT "luojia developers <luojia-dev@lists.luojia.invalid>")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_GENERATOR DEB)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "gdal-bin")
if(LUOJIA_PYTHON)
  # The extension is built for one Python version (its file name says cpython-3XY).
  string(REPLACE "." ";" version "${LUOJIA_PYTHON_VERSION}")
  list(GET version 0 major)
  list(GET version 1 minor)
  math(EXPR next "${minor} + 1")
  string(APPEND CPACK_DEBIAN_PACKAGE_DEPENDS ", python3 (>= ${major}.${minor}), python3 (<< ${major}.${next}), python3-numpy")
endif()
# What find_package(luojia) needs to link the static library into a user's program.
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "cmake, g++, libgdal-dev, libtbb-dev, libeigen3-dev, libonnx-dev, libprotobuf-dev, nlohmann-json3-dev")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "qgis, python3-geopandas, python3-rasterio")
include(CPack)
