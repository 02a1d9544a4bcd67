#!/usr/bin/env python3
"""Issue #4 part 4: the common model families, exported with PyTorch (random weights, fixed
seed), built and run by Kiln, and compared with ONNX Runtime.

  python3 tests/models/model_families.py --kilnexec build/tools/kilnexec/kilnexec \
      --workdir /tmp/kiln-families [--only resnet50,vit_b_16] [--results tests/models/model_families.json]

Each family is exported once into --workdir (the .onnx files are tens to hundreds of MB: never
committed), then run through tests/e2e/compare_with_ort.py's kilnexec path: build + run, and the
saved plan reloaded + run. Pass: every output's max |kiln - ort| <= 1e-3 x the output's range
(issue #4's bound for FP32). A model that does not parse or build records the first error, which
names the op that blocks it. --results writes a JSON record (date, versions, per model) that the
conformance runner renders as the "Model families" table of docs/onnx-support.md.

Needs torch, torchvision, transformers and timm; runs outside CI (CI does not install PyTorch).
Ends with 'N passed, M failed'.
"""
import argparse
import datetime
import json
import os
import re
import subprocess
import sys
import time

import numpy as np
import onnx
import onnxruntime as ort

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
from compare_with_ort import make_inputs, run_kiln  # noqa: E402

REL_TOL = 1e-3


def _tv(name, shape=(1, 3, 224, 224), **kw):
    def make():
        import torch
        import torchvision
        m = getattr(torchvision.models, name)(weights=None, **kw)
        return m, (torch.randn(*shape),), ["input"], ["output"]
    return make


def _deeplab():
    import torch
    import torchvision

    class Seg(torch.nn.Module):  # the "out" head only: a tensor, not a dict
        def __init__(self):
            super().__init__()
            self.m = torchvision.models.segmentation.deeplabv3_mobilenet_v3_large(weights=None, weights_backbone=None,
                                                                                 aux_loss=False)

        def forward(self, x):
            return self.m(x)["out"]
    return Seg(), (torch.randn(1, 3, 224, 224),), ["input"], ["out"]


def _faster_rcnn_backbone_rpn():
    """Faster-RCNN's backbone (ResNet-50 + FPN) and RPN head: objectness and box deltas per
    FPN level; the proposal selection (top-k + NMS) stays outside, as TensorRT users split it."""
    import torch
    import torchvision
    det = torchvision.models.detection.fasterrcnn_resnet50_fpn(weights=None, weights_backbone=None)

    class BackboneRpn(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.backbone = det.backbone
            self.head = det.rpn.head

        def forward(self, x):
            feats = list(self.backbone(x).values())
            logits, deltas = self.head(feats)
            return tuple(logits) + tuple(deltas)
    names = [f"objectness_{i}" for i in range(5)] + [f"deltas_{i}" for i in range(5)]
    return BackboneRpn(), (torch.randn(1, 3, 320, 320),), ["input"], names


def _crnn():
    import torch
    from torch import nn

    class Crnn(nn.Module):  # conv stack -> BiLSTM -> per-column classes, input 1x3x32x448
        def __init__(self, classes=37):
            super().__init__()
            c = lambda i, o: [nn.Conv2d(i, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU()]
            self.cnn = nn.Sequential(*c(3, 32), nn.MaxPool2d(2), *c(32, 64), nn.MaxPool2d(2), *c(64, 128),
                                     nn.MaxPool2d((2, 1)), *c(128, 128), nn.MaxPool2d((4, 1)))
            self.rnn = nn.LSTM(128, 64, bidirectional=True, batch_first=True)
            self.fc = nn.Linear(128, classes)

        def forward(self, x):
            f = self.cnn(x).squeeze(2).permute(0, 2, 1)  # N, W/4, C
            y, _ = self.rnn(f)
            return self.fc(y)
    return Crnn(), (torch.randn(1, 3, 32, 448),), ["input"], ["logits"]


def _hf_encoder(kind):
    def make():
        import torch
        import transformers as tf
        seq = 128
        if kind == "bert_base":
            cfg = tf.BertConfig()  # BERT-base: 12 layers, hidden 768
            model = tf.BertModel(cfg)
        elif kind == "distilbert":
            cfg = tf.DistilBertConfig()
            model = tf.DistilBertModel(cfg)
        elif kind == "gpt2":
            cfg = tf.GPT2Config(use_cache=False)
            model = tf.GPT2Model(cfg)
        elif kind == "t5_small_encoder":
            cfg = tf.T5Config(d_model=512, d_ff=2048, num_layers=6, num_heads=8, use_cache=False)
            model = tf.T5EncoderModel(cfg)
        cfg._attn_implementation = "eager"  # plain MatMul/Softmax attention, as TensorRT users export it
        vocab = cfg.vocab_size

        class Wrap(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.m = model

            def forward(self, input_ids, attention_mask):
                return self.m(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        ids = torch.randint(0, vocab, (1, seq))
        mask = torch.ones(1, seq, dtype=torch.long)
        return Wrap(), (ids, mask), ["input_ids", "attention_mask"], ["last_hidden_state"]
    return make


def _whisper_tiny_encoder():
    import torch
    import transformers as tf
    cfg = tf.WhisperConfig(d_model=384, encoder_layers=4, encoder_attention_heads=6, decoder_layers=4,
                           decoder_attention_heads=6, encoder_ffn_dim=1536, decoder_ffn_dim=1536)  # whisper-tiny
    cfg._attn_implementation = "eager"
    enc = tf.WhisperModel(cfg).get_encoder()

    class Wrap(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.m = enc

        def forward(self, input_features):
            return self.m(input_features=input_features).last_hidden_state
    return Wrap(), (torch.randn(1, 80, 3000),), ["input_features"], ["last_hidden_state"]


def _timm(name, shape=(1, 3, 224, 224)):
    def make():
        import timm
        import torch
        return timm.create_model(name, pretrained=False), (torch.randn(*shape),), ["input"], ["output"]
    return make


# name -> (family, maker)
FAMILIES = {
    "resnet50": ("torchvision", _tv("resnet50")),
    "mobilenet_v2": ("torchvision", _tv("mobilenet_v2")),
    "mobilenet_v3_large": ("torchvision", _tv("mobilenet_v3_large")),
    "efficientnet_b0": ("torchvision", _tv("efficientnet_b0")),
    "regnet_y_400mf": ("torchvision", _tv("regnet_y_400mf")),
    "convnext_tiny": ("torchvision", _tv("convnext_tiny")),
    "vit_b_16": ("torchvision", _tv("vit_b_16")),
    "swin_t": ("torchvision", _tv("swin_t")),
    "deeplabv3_mobilenet_v3": ("torchvision", _deeplab),
    "fasterrcnn_backbone_rpn": ("torchvision", _faster_rcnn_backbone_rpn),
    "crnn_1x3x32x448": ("PyTorch", _crnn),
    "bert_base": ("transformers", _hf_encoder("bert_base")),
    "distilbert": ("transformers", _hf_encoder("distilbert")),
    "gpt2": ("transformers", _hf_encoder("gpt2")),
    "whisper_tiny_encoder": ("transformers", _whisper_tiny_encoder),
    "t5_small_encoder": ("transformers", _hf_encoder("t5_small_encoder")),
    "timm_ghostnet_100": ("timm", _timm("ghostnet_100")),
    "timm_mobilevit_xs": ("timm", _timm("mobilevit_xs", (1, 3, 256, 256))),
    "timm_levit_128s": ("timm", _timm("levit_128s")),
}


def export(name, path, opset):
    import torch
    torch.manual_seed(0)
    # nn.MultiheadAttention's inference fast path (ViT, Swin) has no ONNX form; the plain path does.
    torch.backends.mha.set_fastpath_enabled(False)
    model, args, inputs, outputs = FAMILIES[name][1]()
    with torch.no_grad():  # heads that start at zero (torchvision ViT's) would make every output 0
        for p in model.parameters():
            if p.dim() >= 2 and not p.any():
                torch.nn.init.normal_(p, std=0.02)
    model.eval()
    with torch.no_grad():
        torch.onnx.export(model, args, path, input_names=inputs, output_names=outputs, opset_version=opset,
                          dynamo=False)


def compare(ref, got):
    ref = np.asarray(ref, np.float64)
    if got is None:
        return False, "missing from Kiln's outputs", None
    if tuple(got.shape) != tuple(ref.shape):
        return False, f"shape {tuple(got.shape)} != ONNX Runtime's {tuple(ref.shape)}", None
    rng = float(ref.max() - ref.min()) if ref.size else 0.0
    err = float(np.abs(got - ref).max()) if ref.size else 0.0
    if rng == 0:  # a constant output checks nothing
        return False, f"ONNX Runtime's output is constant ({float(ref.flat[0]) if ref.size else 'empty'})", None
    rel = err / rng
    return rel <= REL_TOL, f"max abs err {err:.3g}, range {rng:.3g}", rel


def first_error(text):
    """The kilnexec line that says what failed (the parser's 'node ... op ...' line when there is one)."""
    # kilnexec's log lines start "[date-time] [E] [Kiln] ": keep only the message.
    lines = [re.sub(r"^\[[^\]]*\] \[[A-Z]\] (\[Kiln\] )?", "", l.strip()) for l in text.splitlines() if l.strip()]
    for key in ("ERROR", "error", "Error"):
        hit = [l for l in lines if key in l]
        if hit:
            return hit[0][:300]
    return (lines[-1] if lines else "failed")[:300]


def run_one(name, args):
    path = os.path.join(args.workdir, f"{name}.onnx")
    rec = {"model": name, "family": FAMILIES[name][0]}
    if not os.path.exists(path):
        t0 = time.time()
        try:
            export(name, path, args.opset)
        except Exception as e:  # an export failure is PyTorch's, not Kiln's: record and go on
            rec.update(status="export failed", detail=str(e).splitlines()[0][:300])
            return rec
        rec["export_s"] = round(time.time() - t0, 1)
    m = onnx.load(path, load_external_data=False)
    rec["opset"] = next((o.version for o in m.opset_import if o.domain in ("", "ai.onnx")), None)
    rec["nodes"] = len(m.graph.node)
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    feeds = make_inputs(sess, np.random.default_rng(7), {})
    refs = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, feeds)))
    shapes = ",".join(f"{k}:{'x'.join(map(str, v.shape))}" for k, v in feeds.items())
    extra = [f"--shapes={shapes}", "--threads=2"]
    worst = 0.0
    for load_plan in (False, True):
        try:
            t0 = time.time()
            got = run_kiln(args.kilnexec, path, feeds, args.workdir, extra, load_plan)
            if not load_plan:
                rec["kiln_build_and_run_s"] = round(time.time() - t0, 1)
        except Exception as e:
            rec.update(status="reload failed" if load_plan else "build failed", detail=first_error(str(e)))
            return rec
        for out, ref in refs.items():
            ok, msg, rel = compare(ref, got.get(out))
            if rel is not None:
                worst = max(worst, rel)
            if not ok:
                rec.update(status="wrong output", detail=f"{'reloaded plan: ' if load_plan else ''}{out}: {msg}")
                rec["max_rel_err"] = worst
                return rec
    rec.update(status="pass", max_rel_err=worst)
    return rec


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kilnexec", required=True)
    ap.add_argument("--workdir", default="/tmp/kiln-families")
    ap.add_argument("--only", default="", help="comma-separated model names (default: all)")
    ap.add_argument("--opset", type=int, default=17)
    ap.add_argument("--results", help="write the JSON record here")
    ap.add_argument("--export-only", action="store_true", help="only export the missing .onnx files")
    args = ap.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    names = [n for n in args.only.split(",") if n] or list(FAMILIES)
    unknown = [n for n in names if n not in FAMILIES]
    if unknown:
        ap.error(f"unknown model(s) {unknown}; known: {', '.join(FAMILIES)}")
    if args.export_only:
        for name in names:
            path = os.path.join(args.workdir, f"{name}.onnx")
            if not os.path.exists(path):
                try:
                    export(name, path, args.opset)
                    print(f"exported {path}", flush=True)
                except Exception as e:
                    print(f"export of {name} failed: {str(e).splitlines()[0][:300]}", flush=True)
        return 0
    records = []
    for name in names:
        rec = run_one(name, args)
        records.append(rec)
        err = f", max rel err {rec['max_rel_err']:.2g}" if "max_rel_err" in rec else ""
        print(f"{'PASS' if rec['status'] == 'pass' else 'FAIL'} {name}: {rec['status']}{err}"
              f"{(' - ' + rec['detail']) if rec.get('detail') else ''}", flush=True)
    if args.results:
        import torch
        import torchvision
        import transformers
        import timm
        versions = {"torch": torch.__version__, "torchvision": torchvision.__version__,
                    "transformers": transformers.__version__, "timm": timm.__version__,
                    "onnx": onnx.__version__, "onnxruntime": ort.__version__}
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             cwd=os.path.dirname(os.path.abspath(__file__))).stdout.strip()
        old = {}
        if os.path.exists(args.results) and args.only:
            with open(args.results) as f:
                old = {r["model"]: r for r in json.load(f)["models"]}
        for r in records:
            old[r["model"]] = r
        merged = [old[n] for n in FAMILIES if n in old]
        with open(args.results, "w") as f:
            json.dump({"date": datetime.date.today().isoformat(), "kiln": rev, "versions": versions,
                       "tolerance": f"max abs err <= {REL_TOL:g} x output range, built and reloaded plan",
                       "command": "python3 tests/models/model_families.py --kilnexec build/tools/kilnexec/kilnexec "
                                  "--results tests/models/model_families.json",
                       "models": merged}, f, indent=1)
            f.write("\n")
    passed = sum(r["status"] == "pass" for r in records)
    print(f"{passed} passed, {len(records) - passed} failed")
    return 0 if passed == len(records) else 1


if __name__ == "__main__":
    sys.exit(main())
