#!/usr/bin/env python3
"""Builds each ONNX model with kilnexec, runs it, and compares every output with ONNX Runtime.

Pass criterion (issue #3): max |kiln - ort| <= 1e-4 * (max(ort) - min(ort)) for FP32
(the output's range; a constant output falls back to an absolute 1e-5).
The plan is also saved and re-loaded (--loadEngine) and the reloaded run must match too.

  python3 tests/e2e/compare_with_ort.py --kilnexec build/tools/kilnexec/kilnexec \
      --models tests/models [--model extra.onnx ...] [--workdir /tmp/kiln-e2e]
Ends with the line 'N passed, M failed'; exit status 1 when any model failed.
"""
import argparse
import glob
import json
import os
import subprocess
import sys

import numpy as np
import onnx
import onnxruntime as ort

NP_TYPES = {"tensor(float)": np.float32, "tensor(int64)": np.int64, "tensor(int32)": np.int32,
            "tensor(bool)": np.bool_, "tensor(uint8)": np.uint8, "tensor(int8)": np.int8}
REL_TOL = 1e-4


def make_inputs(session, rng, shapes):
    feeds = {}
    for i in session.get_inputs():
        shape = shapes.get(i.name) or [d if isinstance(d, int) else 1 for d in i.shape]
        dtype = NP_TYPES[i.type]
        if dtype == np.float32:
            feeds[i.name] = rng.uniform(-1, 1, size=shape).astype(np.float32)
        elif "mask" in i.name:
            m = np.ones(shape, dtype)
            if m.ndim == 2 and m.shape[1] > 4:
                m[:, -3:] = 0  # a padded tail, so the mask matters
            feeds[i.name] = m
        elif dtype == np.bool_:
            feeds[i.name] = rng.integers(0, 2, size=shape).astype(np.bool_)
        else:
            feeds[i.name] = rng.integers(0, 50, size=shape).astype(dtype)
    return feeds


def run_kiln(kilnexec, model, feeds, workdir, extra, load_plan):
    base = os.path.join(workdir, os.path.splitext(os.path.basename(model))[0])
    load = []
    for name, arr in feeds.items():
        path = f"{base}.in.{len(load)}.bin"
        arr.tofile(path)
        load.append(f"{name}:{path}")
    out_json = f"{base}.{'reload' if load_plan else 'build'}.out.json"
    plan = f"{base}.plan"
    cmd = [kilnexec, "--iterations=1", "--warmUp=0", "--duration=0", "--exportOutput=" + out_json]
    if load:
        cmd.append("--loadInputs=" + ",".join(load))
    cmd += [f"--loadEngine={plan}"] if load_plan else [f"--onnx={model}", f"--saveEngine={plan}"]
    cmd += extra
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise RuntimeError(f"kilnexec failed ({proc.returncode}):\n{tail}")
    with open(out_json) as f:
        outputs = json.load(f)
    result = {}
    for o in outputs:
        dims = [int(d) for d in str(o["dimensions"]).split("x") if d != ""]
        result[o["name"]] = np.asarray(o["values"], dtype=np.float64).reshape(dims)
    return result


def compare(name, ref, got):
    ref = np.asarray(ref, np.float64)
    if got is None:
        return False, f"{name}: missing from Kiln's outputs"
    if tuple(got.shape) != tuple(ref.shape):
        return False, f"{name}: shape {tuple(got.shape)} != ONNX Runtime's {tuple(ref.shape)}"
    rng = float(ref.max() - ref.min()) if ref.size else 0.0
    err = float(np.abs(got - ref).max()) if ref.size else 0.0
    bound = REL_TOL * rng if rng > 0 else 1e-5
    ok = err <= bound
    return ok, f"{name}{list(ref.shape)}: max abs err {err:.3g}, range {rng:.3g}, rel {err / rng if rng else err:.3g} {'ok' if ok else 'FAIL'}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kilnexec", required=True)
    ap.add_argument("--models", help="directory of .onnx files")
    ap.add_argument("--model", action="append", default=[], help="an extra .onnx file (repeatable)")
    ap.add_argument("--workdir", default="/tmp/kiln-e2e")
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    models = sorted(glob.glob(os.path.join(args.models, "*.onnx"))) if args.models else []
    models += args.model
    passed = failed = 0
    for model in models:
        rng = np.random.default_rng(7)
        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        sess = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
        feeds = make_inputs(sess, rng, {})
        refs = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, feeds)))
        shapes = ",".join(f"{k}:{'x'.join(map(str, v.shape))}" for k, v in feeds.items())
        extra = [f"--shapes={shapes}"]
        if args.threads:
            extra.append(f"--threads={args.threads}")
        ok_model = True
        lines = []
        for load_plan in (False, True):
            try:
                got = run_kiln(args.kilnexec, model, feeds, args.workdir, extra, load_plan)
            except Exception as e:  # report and go on to the next model
                ok_model = False
                lines.append(str(e))
                break
            for name, ref in refs.items():
                ok, msg = compare(name, ref, got.get(name))
                ok_model &= ok
                lines.append(("reloaded plan: " if load_plan else "") + msg)
        print(f"{'PASS' if ok_model else 'FAIL'} {os.path.basename(model)}")
        for line in lines:
            print("   ", line)
        passed += ok_model
        failed += not ok_model
    print(f"{passed} passed, {failed} failed")
    return 1 if failed or not models else 0


if __name__ == "__main__":
    sys.exit(main())
