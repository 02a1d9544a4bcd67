# Session 12's call 4: the CUDA layout and Conv tests after Conv.cuda_direct was narrowed to its stem
# kernel (calls 1-3 measured the general forms; call 3 the stem kernel itself on YOLO b16).
source docs/data/gpu-2026-12-03c/env.sh
timeout 200 $(dirname $KX)/../../tests/kiln_cuda_tests --gtest_filter='CudaLayout.*:*Conv*' --gtest_brief=1 > $OUT/tests.log 2>&1; echo "rc=$?"
grep -E "^\[  (PASSED|FAILED|SKIPPED) |tests from .* ran|FAILED  \]|Failure|direct" $OUT/tests.log | tail -20
