# Device call 3 (session 9, lead): d768ab5's build (= main's CUDA code after the attn-fast merge): the attention
# tests, EnginePrecision with full output, then old (df7af48) / new A/B on ViT-B/16 b64 and BERT b32 FP16, 3 rounds.
source .devcarry/env.sh
ROOT=$PWD
(cd /tmp/tree/bench && python3 run_cuda.py --export-one vit_b_16 64 /tmp/kb > /tmp/exp1.log 2>&1; python3 run_cuda.py --export-one bert_base 32 /tmp/kb > /tmp/exp2.log 2>&1) &
EXP=$!
echo "== tests"; cd /tmp/k && timeout 100 /tmp/k/kiln/bin/kiln_cuda_tests --gtest_filter="CudaAttention*" --gtest_brief=1 2>&1 | tee $OUT/tests_attention.log | grep -E "FAILED|PASSED|SKIPPED|tests from|Failure" | tail -8
timeout 90 /tmp/k/kiln/bin/kiln_cuda_tests --gtest_filter="Models/EnginePrecision*" 2>&1 > $OUT/tests_precision.log; grep -E "FAILED|PASSED|Failure|Expected|which is|error|element|got" $OUT/tests_precision.log | head -30; cd $ROOT
wait $EXP; tail -2 /tmp/exp1.log /tmp/exp2.log
for m in vit_b_16_b64:input bert_base_b32:input_ids,attention_mask; do
  n=${m%%:*}; ins=""; for i in $(echo ${m#*:} | tr , ' '); do ins="$ins,$i:/tmp/kb/$n.$i.bin"; done; ins=${ins#,}
  timeout 90 $OLD --onnx=/tmp/kb/$n.onnx --fp16 --saveEngine=/tmp/kb/${n}_old.plan --device=cuda --iterations=1 --warmUp=0 --duration=0 > /dev/null 2>&1
  timeout 90 $NEW --onnx=/tmp/kb/$n.onnx --fp16 --saveEngine=/tmp/kb/${n}_new.plan --device=cuda --iterations=1 --warmUp=0 --duration=0 > /dev/null 2>&1
  for r in 1 2 3; do for w in old new; do
    exe=$NEW; [ $w = old ] && exe=$OLD
    echo "$n $w round $r: $(timeout 30 $exe --loadEngine=/tmp/kb/${n}_$w.plan --device=cuda --useCudaGraph --loadInputs=$ins --iterations=100 --warmUp=200 --duration=0 2>&1 | grep -E 'GPU Compute Time' | head -1 | grep -o 'median = [0-9.]* ms')"
  done; done
done
