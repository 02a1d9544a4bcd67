#!/usr/bin/env python3
"""The seed's OCR flow with a dynamic width, end to end through kilnexec.

Builds ONE engine for widths 32..1024 (opt 448) from crnn_dynamic_width.onnx (exported by
export_crnn.py exactly as the seed does), then runs it at widths 32, 100, 448, 777 and 1024 and
compares each output with ONNX Runtime (max abs error <= 1e-4 of the output's range).
  python3 examples/ocr_dynamic_width/run_widths.py --kilnexec build/tools/kilnexec/kilnexec
Ends with 'N passed, M failed'.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnxruntime as ort

HERE = os.path.dirname(os.path.abspath(__file__))


def kilnexec(exe, *args):
    p = subprocess.run([exe, *args], capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"kilnexec {' '.join(args)} failed:\n" + "\n".join((p.stdout + p.stderr).splitlines()[-10:]))
    return p.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kilnexec", required=True)
    ap.add_argument("--model", default=os.path.join(HERE, "crnn_dynamic_width.onnx"))
    ap.add_argument("--widths", default="32,100,448,777,1024")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="kiln-ocr-")
    plan = os.path.join(work, "crnn.plan")
    kilnexec(args.kilnexec, f"--onnx={args.model}", f"--saveEngine={plan}", "--minShapes=input:1x3x32x32",
             "--optShapes=input:1x3x32x448", "--maxShapes=input:1x3x32x1024", "--skipInference")
    sess = ort.InferenceSession(args.model, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(3)
    passed = failed = 0
    for w in map(int, args.widths.split(",")):
        x = rng.standard_normal((1, 3, 32, w)).astype(np.float32)
        xin, out = os.path.join(work, f"x{w}.bin"), os.path.join(work, f"y{w}.json")
        x.tofile(xin)
        kilnexec(args.kilnexec, f"--loadEngine={plan}", f"--shapes=input:1x3x32x{w}", f"--loadInputs=input:{xin}",
                 f"--exportOutput={out}", "--iterations=1", "--warmUp=0", "--duration=0")
        with open(out) as f:
            o = json.load(f)[0]
        got = np.asarray(o["values"], np.float64).reshape([int(d) for d in o["dimensions"].split("x")])
        ref = sess.run(None, {"input": x})[0]
        err = float(np.abs(got - ref).max()) if got.shape == ref.shape else float("inf")
        rng_ = float(ref.max() - ref.min())
        ok = err <= 1e-4 * rng_
        print(f"{'PASS' if ok else 'FAIL'} width {w}: output {list(got.shape)} vs ORT {list(ref.shape)}, "
              f"max abs err {err:.3g} (range {rng_:.3g})")
        passed += ok
        failed += not ok
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
