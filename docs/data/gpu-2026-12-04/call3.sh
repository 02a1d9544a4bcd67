# Session 12's call 3: Conv.cuda_direct's stem kernel (3x3 window, 3 channels, k <= 16: the window
# unrolled, weights and bias as kernel parameters), after call 2's staged kernel ran YOLO's stem in
# 0.240 ms (call 1's: 0.153; cuDNN: 0.130); call 2's NHWC pool change is reverted (no gain).
# Every kiln_cuda_test; YOLO-style b16 FP16 (the stem's tactics, 3 CUDA-graph runs, a per-layer
# profile); bench/run_cuda.py on YOLO b16 FP16 with eager PyTorch and torch.compile in the same run.
source docs/data/gpu-2026-12-03c/env.sh
python3 bench/models/make_yolo.py --batch 16 --out /tmp/yolo16.onnx > /dev/null 2>&1 &
echo "== kiln_cuda_tests"
timeout 300 $(dirname $KX)/../../tests/kiln_cuda_tests --gtest_brief=1 > $OUT/tests.log 2>&1; echo "rc=$?"
grep -E "^\[  (PASSED|FAILED|SKIPPED) |tests from .* ran|FAILED  \]" $OUT/tests.log | tail -12
wait
echo "== YOLO b16 FP16"
timeout 120 $KX --onnx=/tmp/yolo16.onnx --device=cuda --fp16 --saveEngine=/tmp/yolo16.plan --iterations=1 --warmUp=0 --duration=0 --verbose > $OUT/yolo_build.log 2>&1
grep -E "for Conv node \"conv_3\"|conv_3 \[Conv\]" $OUT/yolo_build.log | head -12
for r in 1 2 3; do timeout 30 $KX --loadEngine=/tmp/yolo16.plan --device=cuda --useCudaGraph --iterations=100 --warmUp=200 --duration=0 2>&1 | grep -E "GPU Compute Time" | head -1 | grep -o "median = [0-9.]* ms"; done
timeout 60 $KX --loadEngine=/tmp/yolo16.plan --device=cuda --iterations=50 --warmUp=20 --duration=0 --exportProfile=$OUT/yolo16_profile.json --exportLayerInfo=$OUT/yolo16_layers.json > /dev/null 2>&1
python3 docs/data/gpu-2026-12-03c/profile_summary.py $OUT/yolo16_profile.json $OUT/yolo16_layers.json 2>/dev/null | head -20
echo "== run_cuda.py YOLO b16 FP16"
timeout 230 python3 bench/run_cuda.py --kilnexec $KX --workdir /tmp/kb --models yolo --batch-sizes 16 --precisions fp16 --compile-limit 5 --budget 200 --out-json $OUT/yolo16_bench.json --out-md $OUT/yolo16_bench.md > $OUT/run_cuda.log 2>&1; echo "rc=$?"
tail -12 $OUT/yolo16_bench.md
