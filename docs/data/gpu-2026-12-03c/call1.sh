# Session 11's call 1: every kiln_cuda_test (with the word-wide nearest Resize and its new
# trailing-copy cases), a per-layer profile of the YOLO-style detector at batch 16 in FP16, then
# bench/run_cuda.py on YOLO (b1, b16, FP16) with eager PyTorch and torch.compile in the same run.
source docs/data/gpu-2026-12-03c/env.sh
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
python3 bench/models/make_yolo.py --batch 16 --out /tmp/yolo16.onnx > /dev/null 2>&1 &
EXP=$!
echo "== kiln_cuda_tests"
timeout 300 $(dirname $KX)/../../tests/kiln_cuda_tests --gtest_brief=1 > $OUT/tests.log 2>&1; echo "rc=$?"
grep -E "^\[  (PASSED|FAILED|SKIPPED) |tests from .* ran|FAILED  \]" $OUT/tests.log | tail -12
wait $EXP
echo "== YOLO b16 FP16"
timeout 120 $KX --onnx=/tmp/yolo16.onnx --device=cuda --fp16 --saveEngine=/tmp/yolo16.plan --iterations=1 --warmUp=0 --duration=0 > $OUT/yolo_build.log 2>&1
for r in 1 2 3; do timeout 30 $KX --loadEngine=/tmp/yolo16.plan --device=cuda --useCudaGraph --iterations=100 --warmUp=200 --duration=0 2>&1 | grep -E "GPU Compute Time" | head -1 | grep -o "median = [0-9.]* ms"; done
timeout 60 $KX --loadEngine=/tmp/yolo16.plan --device=cuda --iterations=50 --warmUp=20 --duration=0 --exportProfile=$OUT/yolo16_profile.json --exportLayerInfo=$OUT/yolo16_layers.json > /dev/null 2>&1
python3 docs/data/gpu-2026-12-03c/profile_summary.py $OUT/yolo16_profile.json $OUT/yolo16_layers.json
echo "== run_cuda.py YOLO FP16"
timeout 330 python3 bench/run_cuda.py --kilnexec $KX --workdir /tmp/kb --models yolo --precisions fp16 --budget 280 --out-json $OUT/yolo_bench.json --out-md $OUT/yolo_bench.md > $OUT/run_cuda.log 2>&1; echo "rc=$?"
tail -30 $OUT/yolo_bench.md
