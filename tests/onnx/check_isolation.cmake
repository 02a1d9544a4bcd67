# cmake -DRUNNER=<kiln_onnx_conformance> -DCASES=<cache> -P check_isolation.cmake
# Four cases: one segfaults, one aborts, one hangs (killed after --timeout), one
# runs normally. The runner must count three crashes and one pass, and exit 1.
set(ENV{KILN_CONFORMANCE_FAULT} "segv:^node/test_abs$,abort:^node/test_acos$,hang:^node/test_acosh$")
execute_process(COMMAND ${RUNNER} --cases=${CASES} --timeout=2 --jobs=2 "--filter=^node/test_(abs|acos|acosh|relu)$"
                RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err)
message("${out}${err}")
if(NOT status EQUAL 1)
  message(FATAL_ERROR "expected exit status 1 (crashes), got ${status}")
endif()
foreach(want "crash  node/test_abs  killed by signal 11"
             "crash  node/test_acos  killed by signal 6"
             "crash  node/test_acosh  timed out after 2 s"
             "1 passed, 0 failed, 0 unsupported, 3 crashed")
  string(FIND "${out}" "${want}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "missing from the output: '${want}'")
  endif()
endforeach()
