# Session 13's call 1: every kiln_cuda_test on this session's code (uninitialized host buffers,
# the PCLMUL CRC-32, the CPU BF16 attention); ViT-B/16 and BERT-base at batch 1 FP16 (3 CUDA-graph
# runs each, a per-layer profile), the two batch-1 models 2-4% short of 1.2x torch.compile.
source docs/data/gpu-2026-12-03c/env.sh
python3 bench/models/export_gpu_models.py --out-dir /tmp/m --models vit_b_16,bert_base --batch 1 > $OUT/export.log 2>&1 &
echo "== kiln_cuda_tests"
timeout 300 $(dirname $KX)/../../tests/kiln_cuda_tests --gtest_brief=1 > $OUT/tests.log 2>&1; echo "rc=$?"
grep -E "^\[  (PASSED|FAILED|SKIPPED) |tests from .* ran|FAILED  \]" $OUT/tests.log | tail -12
wait
ls /tmp/m
for m in vit_b_16 bert_base; do
  echo "== $m b1 FP16"
  timeout 120 $KX --onnx=/tmp/m/${m}_b1.onnx --device=cuda --fp16 --saveEngine=/tmp/$m.plan --iterations=1 --warmUp=0 --duration=0 > $OUT/${m}_build.log 2>&1; echo "build rc=$?"
  for r in 1 2 3; do timeout 30 $KX --loadEngine=/tmp/$m.plan --device=cuda --useCudaGraph --iterations=200 --warmUp=200 --duration=0 2>&1 | grep -E "GPU Compute Time" | head -1 | grep -o "median = [0-9.]* ms"; done
  timeout 60 $KX --loadEngine=/tmp/$m.plan --device=cuda --iterations=100 --warmUp=50 --duration=0 --exportProfile=$OUT/${m}_profile.json --exportLayerInfo=$OUT/${m}_layers.json > /dev/null 2>&1
  python3 docs/data/gpu-2026-12-03c/profile_summary.py $OUT/${m}_profile.json $OUT/${m}_layers.json 2>/dev/null | head -30 | cut -c1-230
done
