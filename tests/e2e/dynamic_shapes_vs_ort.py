#!/usr/bin/env python3
"""Dynamic shapes end to end: build ONE engine for one or more shape ranges (optimization
profiles), run it at several shapes, compare each run with ONNX Runtime (max abs err <= 1e-4 of
the output's range). Repeat --min/--opt/--max for more profiles (kilnexec's trtexec-style
groups); each run uses the first profile whose range holds its shapes (--profile=N).

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


def profile_for(spec, profiles):
    """Index of the first (min, max) profile whose range holds every input of `spec`, or None."""
    shapes = parse_shapes(spec)
    for k, (lo, hi) in enumerate(profiles):
        lo, hi = parse_shapes(lo), parse_shapes(hi)
        if all(name in lo and all(a <= d <= b for a, d, b in zip(lo[name], dims, hi[name]))
               for name, dims in shapes.items()):
            return k
    return None


def run(kilnexec, model, lo, opt, hi, runs, workdir=None):
    """lo, opt, hi: one shape spec per profile (a single spec: one profile)."""
    if isinstance(lo, str):
        lo, opt, hi = [lo], [opt], [hi]
    work = workdir or tempfile.mkdtemp(prefix="kiln-dyn-")
    os.makedirs(work, exist_ok=True)
    sess = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(11)
    build = [flag for group in zip(lo, opt, hi)
             for flag in (f"--minShapes={group[0]}", f"--optShapes={group[1]}", f"--maxShapes={group[2]}")]
    profiles = list(zip(lo, hi))
    passed = failed = 0
    for i, spec in enumerate(runs):
        feeds = make_inputs(sess, rng, parse_shapes(spec))
        refs = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, feeds)))
        # The first run builds the engine; every later one loads that same plan.
        profile = profile_for(spec, profiles)
        extra = [f"--shapes={spec}", f"--profile={profile}"] + (build if i == 0 else [])
        try:
            if profile is None:
                raise RuntimeError(f"no profile's range holds {spec}")
            got = run_kiln(kilnexec, model, feeds, work, extra, load_plan=i > 0)
            results = [compare(name, ref, got.get(name)) for name, ref in refs.items()]
        except Exception as e:  # report and go on
            results = [(False, str(e))]
        ok = all(r[0] for r in results)
        print(f"{'PASS' if ok else 'FAIL'} {os.path.basename(model)} at {spec} (profile {profile})")
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
    ap.add_argument("--min", action="append", required=True, help="one profile's min shapes (repeatable)")
    ap.add_argument("--opt", action="append", required=True)
    ap.add_argument("--max", action="append", required=True)
    ap.add_argument("--run", action="append", required=True, help="shapes of one run (repeatable)")
    ap.add_argument("--workdir")
    a = ap.parse_args()
    if not len(a.min) == len(a.opt) == len(a.max):
        ap.error("give --min, --opt and --max once per profile")
    return run(a.kilnexec, a.model, a.min, a.opt, a.max, a.run, a.workdir)


if __name__ == "__main__":
    sys.exit(main())
