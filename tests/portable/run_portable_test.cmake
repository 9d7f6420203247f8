# Builds luojia without -march=native (the binaries a distribution would ship) and runs the
# network engine's tests against PyTorch on that build, once per instruction set it dispatches to.
execute_process(COMMAND ${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${WORK_DIR} -DCMAKE_BUILD_TYPE=Release
                        -DLUOJIA_NATIVE=OFF -DLUOJIA_BUILD_BENCHMARKS=OFF
                RESULT_VARIABLE rc OUTPUT_QUIET)
if(rc)
  message(FATAL_ERROR "configuring the portable build failed")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build ${WORK_DIR} --target luojia_tests -j 2 RESULT_VARIABLE rc OUTPUT_QUIET)
if(rc)
  message(FATAL_ERROR "building the portable tests failed")
endif()
# Each instruction set's build of the convolution GEMM this CPU can run (LUOJIA_ISA forces one;
# unset, the dispatcher picks the best).
file(READ /proc/cpuinfo cpuinfo)
set(isas "" sse2)
if(cpuinfo MATCHES " avx2 " AND cpuinfo MATCHES " fma ")
  list(APPEND isas avx2)
endif()
if(cpuinfo MATCHES " avx512f " AND cpuinfo MATCHES " avx512bw " AND cpuinfo MATCHES " avx512dq " AND cpuinfo MATCHES " avx512vl ")
  list(APPEND isas avx512)
endif()
foreach(isa IN LISTS isas)
  execute_process(COMMAND ${CMAKE_COMMAND} -E env LUOJIA_ISA=${isa} ${WORK_DIR}/tests/luojia_tests [nn]
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  message(STATUS "LUOJIA_ISA=${isa}: ${out}${err}")
  if(rc)
    message(FATAL_ERROR "the portable build's network tests failed with LUOJIA_ISA=${isa}")
  endif()
endforeach()
