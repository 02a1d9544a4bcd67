#!/usr/bin/env python3
"""Writes a BERT-base-shaped encoder (random weights, no PyTorch needed) for the benchmarks.

The graph is tests/models/make_models.py's small_transformer at BERT-base size, so it has the
same op pattern as a PyTorch export: Gather embeddings + positions, LayerNormalization,
MatMul + bias Add, attention with a Shape->Gather->Concat->Reshape chain, Div by sqrt(dh),
additive mask, Softmax, Erf-GELU, residual Adds, ReduceMean pooling.
  python3 bench/models/make_bert.py --out /tmp/bert_base.onnx                 # 12 layers
  python3 bench/models/make_bert.py --layers 6 --out /tmp/distilbert.onnx    # DistilBERT shape
Inputs: input_ids and attention_mask, int64 [batch, seq].
"""
import argparse
import os
import sys

import onnx

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "models"))
from make_models import small_transformer  # noqa: E402


def build(layers=12, hidden=768, heads=12, ff=3072, seq=128, batch=1, vocab=30522):
    model = small_transformer(batch=batch, seq=seq, hidden=hidden, heads=heads, layers=layers, vocab=vocab, ff=ff)
    model.graph.name = f"bert_{layers}l_{hidden}h"
    model.ir_version = 8
    return model


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--layers", type=int, default=12)
    ap.add_argument("--hidden", type=int, default=768)
    ap.add_argument("--heads", type=int, default=12)
    ap.add_argument("--ff", type=int, default=3072)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--vocab", type=int, default=30522)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    m = build(a.layers, a.hidden, a.heads, a.ff, a.seq, a.batch, a.vocab)
    onnx.save(m, a.out)
    print("wrote", a.out)
