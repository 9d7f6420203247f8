# Every dependency comes from Debian; a missing one stops configuration with the package to install.
function(luojia_require found_var what debian_package)
  if(NOT ${found_var})
    message(FATAL_ERROR
      "luojia needs ${what}, which was not found. On Debian/Ubuntu: apt-get install -y ${debian_package}")
  endif()
endfunction()

find_package(GDAL 3.2 QUIET CONFIG)
if(NOT GDAL_FOUND)
  find_package(GDAL 3.2 QUIET)
endif()
luojia_require(GDAL_FOUND "GDAL >= 3.2" libgdal-dev)

find_package(Eigen3 3.4 QUIET NO_MODULE)
luojia_require(Eigen3_FOUND "Eigen 3.4" libeigen3-dev)

find_package(TBB QUIET CONFIG)
luojia_require(TBB_FOUND "oneTBB" libtbb-dev)

find_package(OpenMP QUIET COMPONENTS CXX)
luojia_require(OpenMP_CXX_FOUND "OpenMP for C++" "g++ (libgomp1)")

find_package(Threads REQUIRED)

find_package(Protobuf QUIET)
luojia_require(Protobuf_FOUND "protobuf" libprotobuf-dev)
find_package(ONNX QUIET CONFIG)
luojia_require(ONNX_FOUND "ONNX's protobuf classes" libonnx-dev)
if(TARGET ONNX::onnx_proto)
  set(LUOJIA_ONNX_TARGET ONNX::onnx_proto)
else()
  set(LUOJIA_ONNX_TARGET onnx_proto)
endif()

find_package(nlohmann_json 3 QUIET CONFIG)
luojia_require(nlohmann_json_FOUND "nlohmann-json" nlohmann-json3-dev)

if(LUOJIA_MPI)
  find_package(MPI QUIET COMPONENTS CXX)
  luojia_require(MPI_CXX_FOUND "MPI for C++ (LUOJIA_MPI)" "libopenmpi-dev openmpi-bin")
endif()
