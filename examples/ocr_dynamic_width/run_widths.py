#!/usr/bin/env python3
"""The seed's OCR flow with a dynamic width, end to end through kilnexec.

Builds ONE engine for widths 32..1024 (opt 448) from crnn_dynamic_width.onnx (exported by
export_crnn.py exactly as the seed does), runs it at widths 32, 100, 448, 777 and 1024 and
compares each output with ONNX Runtime.
  python3 examples/ocr_dynamic_width/run_widths.py --kilnexec build/tools/kilnexec/kilnexec
which is the same as this kilnexec flow, done by hand:
  kilnexec --onnx=crnn_dynamic_width.onnx --saveEngine=crnn.plan \
           --minShapes=input:1x3x32x32 --optShapes=input:1x3x32x448 --maxShapes=input:1x3x32x1024
  kilnexec --loadEngine=crnn.plan --shapes=input:1x3x32x777
"""
import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "e2e"))
from dynamic_shapes_vs_ort import run  # noqa: E402

if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--kilnexec", required=True)
    ap.add_argument("--widths", default="32,100,448,777,1024")
    a = ap.parse_args()
    runs = [f"input:1x3x32x{w}" for w in a.widths.split(",")]
    sys.exit(run(a.kilnexec, os.path.join(HERE, "crnn_dynamic_width.onnx"), "input:1x3x32x32", "input:1x3x32x448",
                 "input:1x3x32x1024", runs))
