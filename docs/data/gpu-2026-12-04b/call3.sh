# Session 13's call 3: the residual Add fused into ViT's out-projection through both Reshapes
# (call 1's ViT b1 profile had 12 of them as Add.cuda layers); every kiln_cuda_test; ViT-B/16 b1
# FP16 (3 CUDA-graph runs, the Add count); bench/run_cuda.py side by side at batch 1 FP16 on
# ViT-B/16 and BERT-base.
source docs/data/gpu-2026-12-03c/env.sh
python3 bench/models/export_gpu_models.py --out-dir /tmp/m --models vit_b_16 --batch 1 > $OUT/export.log 2>&1 &
echo "== kiln_cuda_tests"
timeout 300 $(dirname $KX)/../../tests/kiln_cuda_tests --gtest_brief=1 > $OUT/tests.log 2>&1; echo "rc=$?"
grep -E "^\[  (PASSED|FAILED|SKIPPED) |tests from .* ran|FAILED  \]" $OUT/tests.log | tail -12
wait
echo "== vit_b_16 b1 FP16"
timeout 120 $KX --onnx=/tmp/m/vit_b_16_b1.onnx --device=cuda --fp16 --saveEngine=/tmp/vit.plan --iterations=1 --warmUp=0 --duration=0 --verbose > $OUT/vit_build.log 2>&1; echo "build rc=$?"
grep -o "fuse_bias_activation: [^\"]*" $OUT/vit_build.log | head -2
for r in 1 2 3; do timeout 30 $KX --loadEngine=/tmp/vit.plan --device=cuda --useCudaGraph --iterations=200 --warmUp=200 --duration=0 2>&1 | grep -E "GPU Compute Time" | head -1 | grep -o "median = [0-9.]* ms"; done
timeout 60 $KX --loadEngine=/tmp/vit.plan --device=cuda --iterations=100 --warmUp=50 --duration=0 --exportProfile=$OUT/vit_profile.json --exportLayerInfo=$OUT/vit_layers.json > /dev/null 2>&1
python3 docs/data/gpu-2026-12-03c/profile_summary.py $OUT/vit_profile.json $OUT/vit_layers.json 2>/dev/null | head -13
echo "== run_cuda.py b1 FP16"
timeout 400 python3 bench/run_cuda.py --kilnexec $KX --workdir /tmp/kb --models vit_b_16,bert_base --batch-sizes 1 --precisions fp16 --compile-limit 60 --budget 330 --out-json $OUT/b1_bench.json --out-md $OUT/b1_bench.md > $OUT/run_cuda.log 2>&1; echo "rc=$?"
grep -E "^\| (ViT|BERT)" $OUT/b1_bench.md
grep -E "^- " $OUT/b1_bench.md | sort -u
