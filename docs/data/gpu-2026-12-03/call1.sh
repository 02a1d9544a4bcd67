# Device call 1 (issue #7 attention): micro (old kernels vs resident variants), torch SDPA, ncu, attention tests, model A/B.
source .devcarry/env.sh
ROOT=$PWD
nvidia-smi --query-gpu=name,clocks.sm,clocks.mem,temperature.gpu,power.draw --format=csv,noheader | tee $OUT/smi.txt
ldd $NEW /tmp/k/kiln/bin/kiln_cuda_tests | grep "not found"
(cd /tmp/tree/bench && python3 run_cuda.py --export-one vit_b_16 64 /tmp/kb > /tmp/exp1.log 2>&1; python3 run_cuda.py --export-one bert_base 32 /tmp/kb > /tmp/exp2.log 2>&1) &
EXP=$!
echo "== micro"; timeout 100 .devcarry/micro 2>&1 | tee $OUT/micro.log
echo "== sdpa"; timeout 80 python3 /tmp/tree/bench/cuda/sdpa_ref.py 2>&1 | tee $OUT/sdpa.log
echo "== ncu"; MICRO_ONLY=,pipelined,wide,res_w4_prod,res_w4_qpf, timeout 120 ncu --clock-control none --section SpeedOfLight --section Occupancy --section LaunchStats --section WarpStateStats --section MemoryWorkloadAnalysis --section SchedulerStats -k regex:attention -c 16 .devcarry/micro --once > $OUT/ncu.txt 2>&1; grep -E "attention.*Kernel|Duration|Achieved Occupancy|Registers Per|Compute \(SM\) Throughput|Memory Throughput|Stall|Issued Warp" $OUT/ncu.txt | head -80
echo "== tests"; cd /tmp/k && timeout 150 /tmp/k/kiln/bin/kiln_cuda_tests --gtest_filter="CudaAttention*" --gtest_brief=1 2>&1 | tee $OUT/tests_attention.log | grep -E "FAILED|PASSED|SKIPPED|tests from|Failure" | tail -12; cd $ROOT
wait $EXP; tail -2 /tmp/exp1.log /tmp/exp2.log; ls /tmp/kb
for m in vit_b_16_b64:input bert_base_b32:input_ids,attention_mask; do
  n=${m%%:*}; ins=""; for i in $(echo ${m#*:} | tr , ' '); do ins="$ins,$i:/tmp/kb/$n.$i.bin"; done; ins=${ins#,}
  timeout 90 $OLD --onnx=/tmp/kb/$n.onnx --fp16 --saveEngine=/tmp/kb/${n}_old.plan --device=cuda --iterations=1 --warmUp=0 --duration=0 > $OUT/build_${n}_old.log 2>&1
  timeout 90 $NEW --onnx=/tmp/kb/$n.onnx --fp16 --saveEngine=/tmp/kb/${n}_new.plan --device=cuda --iterations=1 --warmUp=0 --duration=0 --exportLayerInfo=/tmp/kb/layers_${n}_new.json > $OUT/build_${n}_new.log 2>&1
  grep -o "kiln_attention_[a-z]*[^,}]\{0,12\}" /tmp/kb/layers_${n}_new.json | sort | uniq -c | head -8
  for r in 1 2 3; do for w in old new; do
    exe=$NEW; [ $w = old ] && exe=$OLD
    echo "$n $w round $r: $(timeout 30 $exe --loadEngine=/tmp/kb/${n}_$w.plan --device=cuda --useCudaGraph --loadInputs=$ins --iterations=100 --warmUp=200 --duration=0 2>&1 | grep -E 'GPU Compute Time' | head -1 | grep -o 'median = [0-9.]* ms')"
  done; done
  for w in old new; do
    exe=$NEW; [ $w = old ] && exe=$OLD
    timeout 40 $exe --loadEngine=/tmp/kb/${n}_$w.plan --device=cuda --loadInputs=$ins --iterations=50 --warmUp=50 --duration=0 --exportProfile=$OUT/prof_${n}_$w.json > /dev/null 2>&1
    python3 -c "
import json,sys;d=json.load(open('$OUT/prof_${n}_$w.json'))[1:];a=[e['medianMs']*1000 for e in d if e['name'].endswith('/attention')];print('$n $w attention per layer us', round(sum(a)/max(len(a),1),1), 'n', len(a), 'total ms', round(sum(e['medianMs'] for e in d),3))"
  done
done
cp /tmp/kb/layers_vit_b_16_b64_new.json $OUT/ 2>/dev/null
echo "== full suite (the rest)"; cd /tmp/k && timeout 120 /tmp/k/kiln/bin/kiln_cuda_tests --gtest_filter="-CudaAttention*" --gtest_brief=1 2>&1 | tee $OUT/tests_rest.log | grep -E "FAILED|PASSED|SKIPPED|tests from" | tail -10
