#!/usr/bin/env python3
"""The four models of the GPU benchmark (issue #7) as PyTorch modules and their ONNX exports.

  resnet50   torchvision resnet50, weights=None            input  [B, 3, 224, 224]
  vit_b_16   torchvision vit_b_16, weights=None            input  [B, 3, 224, 224]
  bert_base  transformers BertModel(BertConfig()), random  input_ids, attention_mask [B, 128] int64
  yolo       the YOLOv8n-shaped CSP detector of make_yolo.py, as a torch module  images [B, 3, 640, 640]

Weights are random with a fixed seed (torch.manual_seed(0)); bench/run_cuda.py builds the same
modules through `build()` so PyTorch and Kiln run the same weights and inputs. Exports are opset 17,
static shapes at the given batch, TorchScript exporter (dynamo=False: its graphs fold to fewer
shape ops), weights kept as initializers.

  python3 bench/models/export_gpu_models.py --out-dir /tmp/gpu_models [--models resnet50,yolo] [--batch 1]
writes <out-dir>/<model>_b<batch>.onnx for each model (and each --batch given, comma-separated).
"""
import argparse
import os
import sys

import torch

MODELS = ("resnet50", "vit_b_16", "bert_base", "yolo")
BERT_SEQ = 128


# ---- the YOLO-style detector (make_yolo.py's graph: CSP backbone, C2f, SPPF, PAN neck, decoupled head)

class ConvSiLU(torch.nn.Module):
    """Conv with bias (BatchNorm folded, as ultralytics exports) and SiLU (exported as x * Sigmoid(x))."""

    def __init__(self, cin, cout, k=1, s=1, act=True):
        super().__init__()
        self.conv = torch.nn.Conv2d(cin, cout, k, s, k // 2, bias=True)
        self.act = act

    def forward(self, x):
        y = self.conv(x)
        return y * torch.sigmoid(y) if self.act else y


class C2f(torch.nn.Module):
    def __init__(self, cin, cout, n, shortcut):
        super().__init__()
        self.c = cout // 2
        self.cv1 = ConvSiLU(cin, 2 * self.c, 1)
        self.m = torch.nn.ModuleList(
            torch.nn.Sequential(ConvSiLU(self.c, self.c, 3), ConvSiLU(self.c, self.c, 3)) for _ in range(n))
        self.shortcut = shortcut
        self.cv2 = ConvSiLU((2 + n) * self.c, cout, 1)

    def forward(self, x):
        parts = list(torch.split(self.cv1(x), [self.c, self.c], dim=1))
        for m in self.m:
            t = m(parts[-1])
            parts.append(parts[-1] + t if self.shortcut else t)
        return self.cv2(torch.cat(parts, 1))


class SPPF(torch.nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        c = cin // 2
        self.cv1 = ConvSiLU(cin, c, 1)
        self.pool = torch.nn.MaxPool2d(5, 1, 2)
        self.cv2 = ConvSiLU(4 * c, cout, 1)

    def forward(self, x):
        y = [self.cv1(x)]
        for _ in range(3):
            y.append(self.pool(y[-1]))
        return self.cv2(torch.cat(y, 1))


class YoloCSP(torch.nn.Module):
    """make_yolo.py's detector (width 0.25, depth 0.34, 80 classes): output [B, 144, 8400] at 640x640."""

    def __init__(self, width=0.25, depth=0.34, classes=80):
        super().__init__()
        ch = lambda c: int(c * width)
        nb = lambda n: max(round(n * depth), 1)
        self.b0 = ConvSiLU(3, ch(64), 3, 2)
        self.b1 = ConvSiLU(ch(64), ch(128), 3, 2)
        self.b2 = C2f(ch(128), ch(128), nb(3), True)
        self.b3 = ConvSiLU(ch(128), ch(256), 3, 2)
        self.b4 = C2f(ch(256), ch(256), nb(6), True)
        self.b5 = ConvSiLU(ch(256), ch(512), 3, 2)
        self.b6 = C2f(ch(512), ch(512), nb(6), True)
        self.b7 = ConvSiLU(ch(512), ch(1024), 3, 2)
        self.b8 = C2f(ch(1024), ch(1024), nb(3), True)
        self.sppf = SPPF(ch(1024), ch(1024))
        self.h4 = C2f(ch(1024) + ch(512), ch(512), nb(3), False)
        self.o3 = C2f(ch(512) + ch(256), ch(256), nb(3), False)
        self.down3 = ConvSiLU(ch(256), ch(256), 3, 2)
        self.o4 = C2f(ch(256) + ch(512), ch(512), nb(3), False)
        self.down4 = ConvSiLU(ch(512), ch(512), 3, 2)
        self.o5 = C2f(ch(512) + ch(1024), ch(1024), nb(3), False)
        self.reg_max, self.classes = 16, classes
        c2, c3 = max(16, ch(256) // 4, 4 * self.reg_max), max(ch(256), min(classes, 100))
        self.box = torch.nn.ModuleList()
        self.cls = torch.nn.ModuleList()
        for cin in (ch(256), ch(512), ch(1024)):
            self.box.append(torch.nn.Sequential(ConvSiLU(cin, c2, 3), ConvSiLU(c2, c2, 3),
                                                ConvSiLU(c2, 4 * self.reg_max, 1, act=False)))
            self.cls.append(torch.nn.Sequential(ConvSiLU(cin, c3, 3), ConvSiLU(c3, c3, 3),
                                                ConvSiLU(c3, classes, 1, act=False)))
        self.up = torch.nn.Upsample(scale_factor=2, mode="nearest")

    def forward(self, images):
        x = self.b3(self.b2(self.b1(self.b0(images))))
        p3 = self.b4(x)
        p4 = self.b6(self.b5(p3))
        p5 = self.sppf(self.b8(self.b7(p4)))
        h4 = self.h4(torch.cat([self.up(p5), p4], 1))
        o3 = self.o3(torch.cat([self.up(h4), p3], 1))
        o4 = self.o4(torch.cat([self.down3(o3), h4], 1))
        o5 = self.o5(torch.cat([self.down4(o4), p5], 1))
        outs = []
        for lvl, box, cls in zip((o3, o4, o5), self.box, self.cls):
            y = torch.cat([box(lvl), cls(lvl)], 1)
            outs.append(y.reshape(y.shape[0], 4 * self.reg_max + self.classes, -1))
        return torch.cat(outs, 2)


# ---- model construction shared with bench/run_cuda.py

class BertLastHidden(torch.nn.Module):
    """BertModel's last_hidden_state only (the pooler's output is not compared)."""

    def __init__(self):
        super().__init__()
        import transformers
        cfg = transformers.BertConfig()  # bert-base: 12 layers, hidden 768, 12 heads
        try:
            self.bert = transformers.BertModel(cfg, add_pooling_layer=False, attn_implementation="eager")
        except TypeError:
            cfg._attn_implementation = "eager"
            self.bert = transformers.BertModel(cfg, add_pooling_layer=False)

    def forward(self, input_ids, attention_mask):
        return self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state


def build(name, batch, seed=0):
    """(module in eval mode, example inputs tuple, input names, output names) for one benchmark model."""
    torch.manual_seed(seed)
    if name in ("resnet50", "vit_b_16"):
        import torchvision
        torch.backends.mha.set_fastpath_enabled(False)  # MultiheadAttention's fast path has no ONNX form
        model = getattr(torchvision.models, name)(weights=None).eval()
        with torch.no_grad():  # heads that start at zero (ViT's) would make every output 0
            for p in model.parameters():
                if p.dim() >= 2 and not p.any():
                    torch.nn.init.normal_(p, std=0.02)
        return model, (torch.randn(batch, 3, 224, 224),), ["input"], ["logits"]
    if name == "bert_base":
        model = BertLastHidden().eval()
        ids = torch.randint(0, model.bert.config.vocab_size, (batch, BERT_SEQ), dtype=torch.int64)
        mask = torch.ones(batch, BERT_SEQ, dtype=torch.int64)
        mask[:, BERT_SEQ - 16:] = 0  # padded tail: the mask path is exercised
        return model, (ids, mask), ["input_ids", "attention_mask"], ["last_hidden_state"]
    if name == "yolo":
        model = YoloCSP().eval()
        return model, (torch.randn(batch, 3, 640, 640),), ["images"], ["output0"]
    raise ValueError(f"unknown model '{name}' (known: {', '.join(MODELS)})")


def export(name, batch, path):
    model, inputs, in_names, out_names = build(name, batch)
    with torch.no_grad():
        torch.onnx.export(model, inputs, path, input_names=in_names, output_names=out_names, opset_version=17,
                          do_constant_folding=True, dynamo=False)
    return path


def parse_list(text, known=None):
    items = [s.strip() for s in text.split(",") if s.strip()]
    if known is not None:
        bad = [s for s in items if s not in known]
        if bad:
            raise SystemExit(f"unknown model(s) {', '.join(bad)} (known: {', '.join(known)})")
    return items


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out-dir", required=True)
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--batch", default="1", help="comma-separated batch sizes")
    args = ap.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)
    for name in parse_list(args.models, MODELS):
        for b in parse_list(args.batch):
            path = export(name, int(b), os.path.join(args.out_dir, f"{name}_b{b}.onnx"))
            print("wrote", path, file=sys.stderr)


if __name__ == "__main__":
    main()
