# Session 12's call 2: call 1 again after its fixes: Conv.cuda_direct stages each block's input rows in
# shared memory (call 1's kernel read x from global memory tap by tap: 0.153 ms against cuDNN's 0.130 on
# YOLO's stem), and the NHWC pools use half-width words when full ones leave too few threads.
# Every kiln_cuda_test; YOLO-style b16 FP16 (which tactic the stem conv_3 gets, 3 CUDA-graph runs,
# a per-layer profile); bench/run_cuda.py on YOLO b16 FP16 with eager PyTorch and torch.compile in
# the same run (max-autotune given 5 s); then ResNet-50 b128 FP16 (its 7x7 C=3 stem is offered the
# tactic too: which one wins, and the graph median).
source docs/data/gpu-2026-12-03c/env.sh
python3 bench/models/make_yolo.py --batch 16 --out /tmp/yolo16.onnx > /dev/null 2>&1 &
python3 bench/models/make_resnet.py --depth 50 --batch 128 --out /tmp/resnet128.onnx > /dev/null 2>&1 &
echo "== kiln_cuda_tests"
timeout 300 $(dirname $KX)/../../tests/kiln_cuda_tests --gtest_brief=1 > $OUT/tests.log 2>&1; echo "rc=$?"
grep -E "^\[  (PASSED|FAILED|SKIPPED) |tests from .* ran|FAILED  \]" $OUT/tests.log | tail -12
wait
echo "== YOLO b16 FP16"
timeout 120 $KX --onnx=/tmp/yolo16.onnx --device=cuda --fp16 --saveEngine=/tmp/yolo16.plan --iterations=1 --warmUp=0 --duration=0 --verbose > $OUT/yolo_build.log 2>&1
grep -E "conv_3 |conv_3\]|cuda_direct" $OUT/yolo_build.log | head -6
for r in 1 2 3; do timeout 30 $KX --loadEngine=/tmp/yolo16.plan --device=cuda --useCudaGraph --iterations=100 --warmUp=200 --duration=0 2>&1 | grep -E "GPU Compute Time" | head -1 | grep -o "median = [0-9.]* ms"; done
timeout 60 $KX --loadEngine=/tmp/yolo16.plan --device=cuda --iterations=50 --warmUp=20 --duration=0 --exportProfile=$OUT/yolo16_profile.json --exportLayerInfo=$OUT/yolo16_layers.json > /dev/null 2>&1
python3 docs/data/gpu-2026-12-03c/profile_summary.py $OUT/yolo16_profile.json $OUT/yolo16_layers.json 2>/dev/null | head -20
echo "== run_cuda.py YOLO b16 FP16"
timeout 230 python3 bench/run_cuda.py --kilnexec $KX --workdir /tmp/kb --models yolo --batch-sizes 16 --precisions fp16 --compile-limit 5 --budget 200 --out-json $OUT/yolo16_bench.json --out-md $OUT/yolo16_bench.md > $OUT/run_cuda.log 2>&1; echo "rc=$?"
tail -12 $OUT/yolo16_bench.md
echo "== ResNet-50 b128 FP16"
timeout 150 $KX --onnx=/tmp/resnet128.onnx --device=cuda --fp16 --saveEngine=/tmp/r128.plan --iterations=1 --warmUp=0 --duration=0 --verbose > $OUT/resnet_build.log 2>&1; echo "rc=$?"
grep -E "cuda_direct" $OUT/resnet_build.log | head -3
grep -E "^.*conv_1 \[Conv\].*tactic=[^ ]*" -o $OUT/resnet_build.log | head -2
timeout 40 $KX --loadEngine=/tmp/r128.plan --device=cuda --useCudaGraph --iterations=50 --warmUp=20 --duration=0 2>&1 | grep -E "GPU Compute Time" | head -1
