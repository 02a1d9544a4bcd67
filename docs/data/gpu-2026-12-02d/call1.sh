# Device call 1 (session 7): the attention tests and the full suite with the trimmed last key tile,
# then an A/B of ViT b64 / BERT b32 FP16 plans (old = d3fb972's kernels, new = this tree), interleaved.
source .devcarry/env.sh
ROOT=$PWD
export KILN_SOURCE_DIR=$ROOT PYTHONUNBUFFERED=1 KILN_COMMIT=$(head -1 /tmp/k/kiln/commit.txt)
mkdir -p /tmp/kold && tar -C /tmp/kold -xzf .devcarry/kiln_old.tgz
cd /tmp/k && set -o pipefail
timeout 200 /tmp/k/kiln/bin/kiln_cuda_tests --gtest_brief=1 2>&1 | tee $OUT/tests_full.log | grep -E "FAILED|PASSED|SKIPPED|tests from" | tail -14
cd $ROOT
timeout 200 python3 bench/run_cuda.py --kilnexec /tmp/k/kiln/bin/kilnexec --workdir /tmp/kb --models vit_b_16,bert_base --precisions fp16 --no-compile \
   --out-md $OUT/table_fp16.md --out-json $OUT/kiln_eager_fp16.json 2>&1 | tail -2
grep "^|" $OUT/table_fp16.md | head -8
NEW=/tmp/k/kiln/bin/kilnexec; OLD=/tmp/kold/kiln/bin/kilnexec
for m in vit_b_16_b64:input bert_base_b32:input_ids,attention_mask; do
  n=${m%%:*}; ins=""; for i in $(echo ${m#*:} | tr , ' '); do ins="$ins,$i:/tmp/kb/$n.$i.bin"; done; ins=${ins#,}
  timeout 60 $OLD --onnx=/tmp/kb/$n.onnx --fp16 --saveEngine=/tmp/kb/${n}_old.plan --device=cuda --iterations=1 --warmUp=0 --duration=0 > /dev/null 2>&1
  for r in 1 2 3; do for w in old new; do
    exe=$NEW; pl=/tmp/kb/${n}_fp16.plan; [ $w = old ] && { exe=$OLD; pl=/tmp/kb/${n}_old.plan; }
    echo "$n $w round $r: $(timeout 30 $exe --loadEngine=$pl --device=cuda --useCudaGraph --loadInputs=$ins --iterations=100 --warmUp=200 --duration=0 2>&1 | grep -E 'GPU Compute Time' | head -1)"
  done; done
  for w in old new; do
    exe=$NEW; pl=/tmp/kb/${n}_fp16.plan; [ $w = old ] && { exe=$OLD; pl=/tmp/kb/${n}_old.plan; }
    timeout 40 $exe --loadEngine=$pl --device=cuda --loadInputs=$ins --iterations=50 --warmUp=50 --duration=0 --exportProfile=$OUT/prof_${n}_$w.json --exportLayerInfo=$OUT/layers_${n}_$w.json > /dev/null 2>&1
  done
done
