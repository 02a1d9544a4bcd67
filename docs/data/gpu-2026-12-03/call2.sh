# Device call 2 (issue #7 attention): new = d768ab5 (resident kernel, old kernels as df7af48), qpf = the same with
# kResidentPrefetchQ true: attention tests of both, then old/new/qpf model A/B.
source .devcarry/env.sh
mkdir -p /tmp/kq && tar -C /tmp/kq -xzf .devcarry/kiln_qpf.tgz; QPF=/tmp/kq/kiln/bin/kilnexec
ROOT=$PWD
(cd /tmp/tree/bench && python3 run_cuda.py --export-one vit_b_16 64 /tmp/kb > /tmp/exp1.log 2>&1; python3 run_cuda.py --export-one bert_base 32 /tmp/kb > /tmp/exp2.log 2>&1) &
EXP=$!
echo "== tests"; cd /tmp/k && timeout 100 /tmp/k/kiln/bin/kiln_cuda_tests --gtest_filter="CudaAttention*" --gtest_brief=1 2>&1 | tee $OUT/tests_attention.log | grep -E "FAILED|PASSED|SKIPPED|tests from|Failure" | tail -12
cd /tmp/kq && timeout 100 /tmp/kq/kiln/bin/kiln_cuda_tests --gtest_filter="CudaAttention*" --gtest_brief=1 2>&1 | tee $OUT/tests_attention_qpf.log | grep -E "FAILED|PASSED|SKIPPED|tests from|Failure" | tail -12
cd /tmp/k && timeout 60 /tmp/k/kiln/bin/kiln_cuda_tests --gtest_filter="Models/EnginePrecision*" 2>&1 | tee $OUT/tests_precision.log | grep -E "FAILED|PASSED|OK|Failure|Expected|which is|error" | head -24; cd $ROOT
wait $EXP
for m in vit_b_16_b64:input bert_base_b32:input_ids,attention_mask; do
  n=${m%%:*}; ins=""; for i in $(echo ${m#*:} | tr , ' '); do ins="$ins,$i:/tmp/kb/$n.$i.bin"; done; ins=${ins#,}
  timeout 90 $OLD --onnx=/tmp/kb/$n.onnx --fp16 --saveEngine=/tmp/kb/${n}_old.plan --device=cuda --iterations=1 --warmUp=0 --duration=0 > /dev/null 2>&1
  timeout 90 $NEW --onnx=/tmp/kb/$n.onnx --fp16 --saveEngine=/tmp/kb/${n}_new.plan --device=cuda --iterations=1 --warmUp=0 --duration=0 > /dev/null 2>&1
  timeout 90 $QPF --onnx=/tmp/kb/$n.onnx --fp16 --saveEngine=/tmp/kb/${n}_qpf.plan --device=cuda --iterations=1 --warmUp=0 --duration=0 > /dev/null 2>&1
  for r in 1 2 3; do for w in old new qpf; do
    exe=$NEW; [ $w = old ] && exe=$OLD; [ $w = qpf ] && exe=$QPF
    echo "$n $w round $r: $(timeout 30 $exe --loadEngine=/tmp/kb/${n}_$w.plan --device=cuda --useCudaGraph --loadInputs=$ins --iterations=100 --warmUp=200 --duration=0 2>&1 | grep -E 'GPU Compute Time' | head -1 | grep -o 'median = [0-9.]* ms')"
  done; done
  for w in old new qpf; do
    exe=$NEW; [ $w = old ] && exe=$OLD; [ $w = qpf ] && exe=$QPF
    timeout 40 $exe --loadEngine=/tmp/kb/${n}_$w.plan --device=cuda --loadInputs=$ins --iterations=50 --warmUp=50 --duration=0 --exportProfile=$OUT/prof_${n}_$w.json > /dev/null 2>&1
    python3 -c "
import json;d=json.load(open('$OUT/prof_${n}_$w.json'))[1:];a=[e['medianMs']*1000 for e in d if e['name'].endswith('/attention')];print('$n $w attention per layer us', round(sum(a)/max(len(a),1),1), 'n', len(a))"
  done
done
