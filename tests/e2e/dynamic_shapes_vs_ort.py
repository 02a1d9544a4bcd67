#!/usr/bin/env python3
"""Dynamic shapes end to end: build ONE engine for a shape range, run it at several shapes,
compare each run with ONNX Runtime (max abs err <= 1e-4 of the output's range).

  python3 tests/e2e/dynamic_shapes_vs_ort.py --kilnexec build/tools/kilnexec/kilnexec \
      --model tests/models/dynamic/small_transformer_dynamic.onnx \
      --min input_ids:1x8,attention_mask:1x8 --opt input_ids:2x16,attention_mask:2x16 \
      --max input_ids:4x64,attention_mask:4x64 \
      --run input_ids:1x8,attention_mask:1x8 --run input_ids:3x37,attention_mask:3x37
Ends with 'N passed, M failed'.
"""
import argparse
import os
import sys
import tempfile

import numpy as np
import onnxruntime as ort

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare_with_ort import compare, make_inputs, run_kiln  # noqa: E402


def parse_shapes(spec):
    return {name: [int(d) for d in dims.split("x")] for name, dims in (item.rsplit(":", 1) for item in spec.split(","))}


def run(kilnexec, model, lo, opt, hi, runs, workdir=None):
    work = workdir or tempfile.mkdtemp(prefix="kiln-dyn-")
    os.makedirs(work, exist_ok=True)
    sess = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(11)
    build = [f"--minShapes={lo}", f"--optShapes={opt}", f"--maxShapes={hi}"]
    passed = failed = 0
    for i, spec in enumerate(runs):
        feeds = make_inputs(sess, rng, parse_shapes(spec))
        refs = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, feeds)))
        # The first run builds the engine; every later one loads that same plan.
        extra = [f"--shapes={spec}"] + (build if i == 0 else [])
        try:
            got = run_kiln(kilnexec, model, feeds, work, extra, load_plan=i > 0)
            results = [compare(name, ref, got.get(name)) for name, ref in refs.items()]
        except Exception as e:  # report and go on
            results = [(False, str(e))]
        ok = all(r[0] for r in results)
        print(f"{'PASS' if ok else 'FAIL'} {os.path.basename(model)} at {spec}")
        for _, msg in results:
            print("   ", msg)
        passed += ok
        failed += not ok
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kilnexec", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--min", required=True)
    ap.add_argument("--opt", required=True)
    ap.add_argument("--max", required=True)
    ap.add_argument("--run", action="append", required=True, help="shapes of one run (repeatable)")
    ap.add_argument("--workdir")
    a = ap.parse_args()
    return run(a.kilnexec, a.model, a.min, a.opt, a.max, a.run, a.workdir)


if __name__ == "__main__":
    sys.exit(main())
