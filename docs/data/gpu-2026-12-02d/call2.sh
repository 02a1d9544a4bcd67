# Device call 2 (session 7): A/B of ViT b64 / BERT b32 FP16 plans built by d3fb972 (old) and this tree (new), interleaved.
source .devcarry/env.sh
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
