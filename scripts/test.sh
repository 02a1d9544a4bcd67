#!/usr/bin/env bash
# README command 2: every test. Builds what is missing, then runs
#  1. ctest on the Release build (unit tests, kilnexec CLI tests, end-to-end vs ONNX Runtime),
#  2. the unit tests again built with AddressSanitizer + UndefinedBehaviorSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
JOBS=${KILN_JOBS:-2}
echo "== ctest (Release)"
ctest --test-dir build --output-on-failure -j "$JOBS"

echo "== unit tests with AddressSanitizer + UndefinedBehaviorSanitizer"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKILN_SANITIZE=ON -DKILN_BUILD_TOOLS=OFF -DKILN_CUDA=OFF >/dev/null
cmake --build build-asan -j "$JOBS"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure -j "$JOBS" -L unit
