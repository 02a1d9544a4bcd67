# Session 13's call 2: bench/run_cuda.py side by side at batch 1 FP16 on ViT-B/16 and BERT-base
# (call 1 measured Kiln with CUDA graphs at 0.505 / 0.454 ms; the last side-by-side runs had
# torch.compile at 0.649 / 0.530 ms), eager FP32 as the outputs' reference.
source docs/data/gpu-2026-12-03c/env.sh
timeout 500 python3 bench/run_cuda.py --kilnexec $KX --workdir /tmp/kb --models vit_b_16,bert_base --batch-sizes 1 --precisions fp16 --compile-limit 60 --budget 420 --out-json $OUT/b1_bench.json --out-md $OUT/b1_bench.md > $OUT/run_cuda.log 2>&1; echo "rc=$?"
tail -14 $OUT/b1_bench.md
tail -5 $OUT/run_cuda.log
