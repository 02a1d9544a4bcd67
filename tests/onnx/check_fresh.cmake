# cmake -DCOMMITTED=<file> -DGENERATED=<file> -P check_fresh.cmake
# Fails, showing the difference, when the committed support matrix is not what
# kiln_onnx_conformance generates now.
if(NOT EXISTS "${GENERATED}")
  message(FATAL_ERROR "${GENERATED} is missing: onnx_conformance did not write it")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files "${COMMITTED}" "${GENERATED}" RESULT_VARIABLE differ)
if(differ)
  find_program(DIFF diff)
  if(DIFF)
    execute_process(COMMAND ${DIFF} -u "${COMMITTED}" "${GENERATED}" OUTPUT_VARIABLE delta)
    string(SUBSTRING "${delta}" 0 6000 delta)
    message("${delta}")
  endif()
  message(FATAL_ERROR "docs/onnx-support.md is stale. Regenerate it (and the expectations) with:\n"
          "  build/tests/onnx/kiln_onnx_conformance --cases=build/onnx-node-tests "
          "--write-matrix=docs/onnx-support.md --write-expected=tests/onnx/expected_passing.txt")
endif()
