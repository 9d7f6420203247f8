# Builds luojia without -march=native (the binaries a distribution would ship) and runs the
# network engine's tests against PyTorch on that build.
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
execute_process(COMMAND ${WORK_DIR}/tests/luojia_tests [nn] RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message(STATUS "${out}${err}")
if(rc)
  message(FATAL_ERROR "the portable build's network tests failed")
endif()
