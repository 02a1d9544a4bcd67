# Session 11's call 2: the KilnReformat fusion (an input's boundary Cast and layout Transpose in
# one kernel) and Transpose's kPlanes kernel. Every kiln_cuda_test, the YOLO-style detector at
# batch 16 in FP16 (3 CUDA-graph runs, a per-layer profile), then bench/run_cuda.py on YOLO b16
# FP16 with eager PyTorch and torch.compile in the same run (max-autotune given 5 s, so the
# default-mode compile gets the budget).
source docs/data/gpu-2026-12-03c/env.sh
python3 bench/models/make_yolo.py --batch 16 --out /tmp/yolo16.onnx > /dev/null 2>&1 &
EXP=$!
echo "== kiln_cuda_tests"
timeout 300 $(dirname $KX)/../../tests/kiln_cuda_tests --gtest_brief=1 > $OUT/tests2.log 2>&1; echo "rc=$?"
grep -E "^\[  (PASSED|FAILED|SKIPPED) |tests from .* ran|FAILED  \]" $OUT/tests2.log | tail -12
wait $EXP
echo "== YOLO b16 FP16"
timeout 120 $KX --onnx=/tmp/yolo16.onnx --device=cuda --fp16 --saveEngine=/tmp/yolo16.plan --iterations=1 --warmUp=0 --duration=0 --verbose > $OUT/yolo_build2.log 2>&1
grep -E "reformat:|layout:" $OUT/yolo_build2.log | head -3
for r in 1 2 3; do timeout 30 $KX --loadEngine=/tmp/yolo16.plan --device=cuda --useCudaGraph --iterations=100 --warmUp=200 --duration=0 2>&1 | grep -E "GPU Compute Time" | head -1 | grep -o "median = [0-9.]* ms"; done
timeout 60 $KX --loadEngine=/tmp/yolo16.plan --device=cuda --iterations=50 --warmUp=20 --duration=0 --exportProfile=$OUT/yolo16_profile2.json --exportLayerInfo=$OUT/yolo16_layers2.json > /dev/null 2>&1
python3 docs/data/gpu-2026-12-03c/profile_summary.py $OUT/yolo16_profile2.json $OUT/yolo16_layers2.json | head -22
echo "== run_cuda.py YOLO b16 FP16"
timeout 420 python3 bench/run_cuda.py --kilnexec $KX --workdir /tmp/kb2 --models yolo --batch-sizes 16 --precisions fp16 --compile-limit 5 --budget 400 --out-json $OUT/yolo16_bench.json --out-md $OUT/yolo16_bench.md > $OUT/run_cuda2.log 2>&1; echo "rc=$?"
tail -12 $OUT/yolo16_bench.md
