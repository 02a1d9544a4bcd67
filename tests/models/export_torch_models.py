#!/usr/bin/env python3
"""Exports the issue's model families with PyTorch (random weights, fixed seed) to ONNX.

  resnet18.onnx      torchvision ResNet-18, 1x3x224x224
  mobilenet_v2.onnx  torchvision MobileNetV2, 1x3x224x224
  bert_tiny.onnx     transformers BertModel: 2 layers, hidden 128, 2 heads, seq 64, vocab 1000
                     (inputs input_ids, attention_mask; outputs last_hidden_state, pooler_output)

These are too big to commit (tens of MB); make them where PyTorch is installed:
  python3 tests/models/export_torch_models.py --out /tmp/models
then compare with ONNX Runtime:
  python3 tests/e2e/compare_with_ort.py --kilnexec build/tools/kilnexec/kilnexec --models /tmp/models
"""
import argparse
import os

import torch


def export(model, args, path, input_names, output_names, opset=17):
    model.eval()
    with torch.no_grad():
        torch.onnx.export(model, args, path, input_names=input_names, output_names=output_names,
                          opset_version=opset, dynamo=False)
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--only", nargs="*", default=None)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    want = lambda name: args.only is None or name in args.only
    torch.manual_seed(0)
    if want("resnet18") or want("mobilenet_v2"):
        import torchvision
        x = torch.randn(1, 3, 224, 224)
        if want("resnet18"):
            export(torchvision.models.resnet18(weights=None), (x,), f"{args.out}/resnet18.onnx", ["input"], ["logits"])
        if want("mobilenet_v2"):
            export(torchvision.models.mobilenet_v2(weights=None), (x,), f"{args.out}/mobilenet_v2.onnx", ["input"],
                   ["logits"])
    if want("bert_tiny"):
        from transformers import BertConfig, BertModel
        cfg = BertConfig(vocab_size=1000, hidden_size=128, num_hidden_layers=2, num_attention_heads=2,
                         intermediate_size=512, max_position_embeddings=128)
        cfg._attn_implementation = "eager"  # plain MatMul/Softmax attention, as TensorRT users export it
        bert = BertModel(cfg)

        class Encoder(torch.nn.Module):  # keyword arguments, tuple outputs: what the exporter wants
            def __init__(self):
                super().__init__()
                self.bert = bert

            def forward(self, input_ids, attention_mask):
                out = self.bert(input_ids=input_ids, attention_mask=attention_mask)
                return out.last_hidden_state, out.pooler_output

        ids = torch.randint(0, 1000, (1, 64))
        mask = torch.ones(1, 64, dtype=torch.long)
        export(Encoder(), (ids, mask), f"{args.out}/bert_tiny.onnx", ["input_ids", "attention_mask"],
               ["last_hidden_state", "pooler_output"], opset=17)


if __name__ == "__main__":
    main()
