# Device call 3 (session 7): the attention tests with the full-last-tile fix, the old/new A/B again, then the rows session 6 could not fit.
source .devcarry/env.sh
export KILN_SOURCE_DIR=$PWD
cd /tmp/k && timeout 60 /tmp/k/kiln/bin/kiln_cuda_tests --gtest_filter="CudaAttention*" --gtest_brief=1 2>&1 | tee $OUT/tests_attention.log | grep -E "FAILED|PASSED|SKIPPED|tests from" | tail -8; cd $OLDPWD
ROOT=$PWD
export KILN_SOURCE_DIR=$ROOT PYTHONUNBUFFERED=1 KILN_COMMIT=$(head -1 /tmp/k/kiln/commit.txt)
mkdir -p /tmp/kold && tar -C /tmp/kold -xzf .devcarry/kiln_old.tgz
timeout 150 python3 bench/run_cuda.py --kilnexec /tmp/k/kiln/bin/kilnexec --workdir /tmp/kb --models vit_b_16 --batch-sizes 64 --precisions fp16 --no-compile \
   --out-md $OUT/table_vit.md --out-json $OUT/kiln_eager_vit.json 2>&1 | tail -1
timeout 100 python3 bench/run_cuda.py --kilnexec /tmp/k/kiln/bin/kilnexec --workdir /tmp/kb --models bert_base --batch-sizes 32 --precisions fp16 --no-compile \
   --out-md $OUT/table_bert.md --out-json $OUT/kiln_eager_bert.json 2>&1 | tail -1
ls /tmp/kb
NEW=/tmp/k/kiln/bin/kilnexec; OLD=/tmp/kold/kiln/bin/kilnexec
for m in vit_b_16_b64:input bert_base_b32:input_ids,attention_mask; do
  n=${m%%:*}; ins=""; for i in $(echo ${m#*:} | tr , ' '); do ins="$ins,$i:/tmp/kb/$n.$i.bin"; done; ins=${ins#,}
  timeout 60 $OLD --onnx=/tmp/kb/$n.onnx --fp16 --saveEngine=/tmp/kb/${n}_old.plan --device=cuda --iterations=1 --warmUp=0 --duration=0 > /dev/null 2>&1
  timeout 60 $NEW --onnx=/tmp/kb/$n.onnx --fp16 --saveEngine=/tmp/kb/${n}_new.plan --device=cuda --iterations=1 --warmUp=0 --duration=0 > /dev/null 2>&1
  for r in 1 2 3; do for w in old new; do
    exe=$NEW; [ $w = old ] && exe=$OLD
    echo "$n $w round $r: $(timeout 30 $exe --loadEngine=/tmp/kb/${n}_$w.plan --device=cuda --useCudaGraph --loadInputs=$ins --iterations=100 --warmUp=200 --duration=0 2>&1 | grep -E 'GPU Compute Time' | head -1 | grep -o 'median = [0-9.]* ms')"
  done; done
  for w in old new; do
    exe=$NEW; [ $w = old ] && exe=$OLD
    timeout 40 $exe --loadEngine=/tmp/kb/${n}_$w.plan --device=cuda --loadInputs=$ins --iterations=50 --warmUp=50 --duration=0 --exportProfile=$OUT/prof_${n}_$w.json > /dev/null 2>&1
  done
done
timeout 170 python3 bench/run_cuda.py --kilnexec /tmp/k/kiln/bin/kilnexec --workdir /tmp/kb --models resnet50 --batch-sizes 128 --precisions bf16 --no-compile \
   --out-md $OUT/table_r50.md --out-json $OUT/kiln_eager_r50_b128_bf16.json 2>&1 | tail -1
timeout 200 python3 bench/run_cuda.py --kilnexec /tmp/k/kiln/bin/kilnexec --workdir /tmp/kb --models yolo --batch-sizes 16 --precisions fp32,bf16 --no-compile \
   --out-md $OUT/table_yolo.md --out-json $OUT/kiln_eager_yolo_b16.json 2>&1 | tail -1
grep "^| [RY]" $OUT/table_r50.md $OUT/table_yolo.md
timeout 200 python3 bench/run_cuda.py --no-kiln --workdir /tmp/kb --models bert_base --batch-sizes 32 --precisions bf16,fp32 --compile-limit 60 --default-compile-limit 60 --budget 190 \
   --out-md $OUT/table_bert_compile.md --out-json $OUT/torch_compile_bert_b32.json 2>&1 | tail -1
grep "^| B" $OUT/table_bert_compile.md
