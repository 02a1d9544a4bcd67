#!/usr/bin/env python3
"""Exports a torchvision classifier with random weights (fixed seed) to ONNX, for bench/run_cpu.py.

  python3 bench/models/export_torchvision.py --model mobilenet_v2 --batch 1 --out /tmp/mobilenet_v2.onnx

Needs PyTorch and torchvision (not installed by scripts/setup.sh: `pip install torch torchvision`);
run_cpu.py lists these models as not run where they are missing.
"""
import argparse

import torch
import torchvision


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True, help="a torchvision.models name: mobilenet_v2, efficientnet_b0, vit_b_16")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    torch.manual_seed(0)
    torch.backends.mha.set_fastpath_enabled(False)  # MultiheadAttention's fast path has no ONNX form
    model = getattr(torchvision.models, args.model)(weights=None).eval()
    with torch.no_grad():  # heads that start at zero (ViT's) would make every output 0
        for p in model.parameters():
            if p.dim() >= 2 and not p.any():
                torch.nn.init.normal_(p, std=0.02)
    x = torch.randn(args.batch, 3, 224, 224)
    with torch.no_grad():
        torch.onnx.export(model, (x,), args.out, input_names=["input"], output_names=["logits"], opset_version=17,
                          dynamo=False)


if __name__ == "__main__":
    main()
