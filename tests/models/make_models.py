#!/usr/bin/env python3
"""Makes the small models committed under tests/models (random weights, fixed seed).

  small_cnn.onnx          conv net: Conv+BN+Relu, MaxPool, strided conv, residual add,
                          depthwise conv + Clip (ReLU6), AveragePool + Resize + Concat,
                          SiLU (x * sigmoid(x)), GlobalAveragePool, Flatten, Gemm, Softmax.
                          Input [2,3,32,32] (batch 2).
  small_transformer.onnx  a 2-layer BERT-style encoder (hidden 32, 4 heads, seq 16, batch 2):
                          Gather embeddings, LayerNormalization, MatMul+bias, multi-head
                          attention with a Shape->Gather->Concat->Reshape chain as PyTorch
                          exports it, Softmax, Erf-GELU, residual adds, ReduceMean pooling.

Run: python3 tests/models/make_models.py [--out tests/models]
"""
import argparse
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

RNG = np.random.default_rng(20261125)


def const(name, arr, inits):
    inits.append(numpy_helper.from_array(np.asarray(arr), name))
    return name


def randw(*shape, scale=None):
    fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else shape[0]
    s = scale if scale is not None else 1.0 / np.sqrt(max(fan_in, 1))
    return (RNG.standard_normal(shape) * s).astype(np.float32)


def small_cnn():
    nodes, inits = [], []
    n = lambda *a, **k: nodes.append(helper.make_node(*a, **k))

    def conv_bn_relu(x, cin, cout, k, stride, pad, name, group=1, act="Relu"):
        w = const(f"{name}.w", randw(cout, cin // group, k, k), inits)
        n("Conv", [x, w], [f"{name}.conv"], name=f"{name}/conv", kernel_shape=[k, k], strides=[stride, stride],
          pads=[pad] * 4, group=group)
        g = const(f"{name}.bn.g", (1 + 0.1 * RNG.standard_normal(cout)).astype(np.float32), inits)
        b = const(f"{name}.bn.b", (0.1 * RNG.standard_normal(cout)).astype(np.float32), inits)
        m = const(f"{name}.bn.m", (0.1 * RNG.standard_normal(cout)).astype(np.float32), inits)
        v = const(f"{name}.bn.v", (0.5 + RNG.random(cout)).astype(np.float32), inits)
        n("BatchNormalization", [f"{name}.conv", g, b, m, v], [f"{name}.bn"], name=f"{name}/bn", epsilon=1e-5)
        if act == "Relu":
            n("Relu", [f"{name}.bn"], [f"{name}.out"], name=f"{name}/relu")
        elif act == "Relu6":
            lo = const(f"{name}.min", np.array(0, np.float32), inits)
            hi = const(f"{name}.max", np.array(6, np.float32), inits)
            n("Clip", [f"{name}.bn", lo, hi], [f"{name}.out"], name=f"{name}/relu6")
        else:
            return f"{name}.bn"
        return f"{name}.out"

    x = conv_bn_relu("input", 3, 16, 3, 1, 1, "stem")
    n("MaxPool", [x], ["pool1"], name="pool1", kernel_shape=[2, 2], strides=[2, 2])  # 16x16
    # branch: average pool, upsample back, concat with the main path
    n("AveragePool", ["pool1"], ["branch.pool"], name="branch/pool", kernel_shape=[3, 3], strides=[2, 2],
      pads=[1, 1, 1, 1], count_include_pad=0)  # 8x8
    scales = const("branch.scales", np.array([1, 1, 2, 2], np.float32), inits)
    n("Resize", ["branch.pool", "", scales], ["branch.up"], name="branch/up", mode="nearest")
    n("Concat", ["pool1", "branch.up"], ["cat"], name="cat", axis=1)  # 32 ch
    y = conv_bn_relu("cat", 32, 24, 3, 2, 1, "down")  # 8x8
    z = conv_bn_relu(y, 24, 24, 1, 1, 0, "proj", act=None)
    n("Add", [z, y], ["res"], name="res/add")
    n("Relu", ["res"], ["res.relu"], name="res/relu")
    d = conv_bn_relu("res.relu", 24, 24, 3, 1, 1, "dw", group=24, act="Relu6")
    # SiLU as exported: x * sigmoid(x)
    n("Sigmoid", [d], ["silu.sig"], name="silu/sigmoid")
    n("Mul", [d, "silu.sig"], ["silu"], name="silu/mul")
    n("GlobalAveragePool", ["silu"], ["gap"], name="gap")
    n("Flatten", ["gap"], ["flat"], name="flatten", axis=1)
    fw = const("fc.w", randw(10, 24), inits)
    fb = const("fc.b", (0.1 * RNG.standard_normal(10)).astype(np.float32), inits)
    n("Gemm", ["flat", fw, fb], ["logits"], name="fc", transB=1)
    n("Softmax", ["logits"], ["probs"], name="softmax", axis=-1)
    graph = helper.make_graph(
        nodes, "small_cnn",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [2, 3, 32, 32])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, [2, 10]),
         helper.make_tensor_value_info("logits", TensorProto.FLOAT, [2, 10])],
        inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="kiln-tests")


def small_transformer(batch=2, seq=16, hidden=32, heads=4, layers=2, vocab=100, ff=64, dynamic=False, max_seq=64):
    """dynamic=True: batch and sequence length are symbolic ('batch', 'seq'); positions are sliced
    out of a max_seq table and the head merge reshapes by Shape, as PyTorch exports them."""
    nodes, inits = [], []
    n = lambda *a, **k: nodes.append(helper.make_node(*a, **k))
    dh = hidden // heads
    emb = const("emb.word", randw(vocab, hidden, scale=0.5), inits)
    n("Gather", [emb, "input_ids"], ["emb.tok"], name="emb/gather", axis=0)
    if dynamic:
        table = const("emb.pos_table", randw(max_seq, hidden, scale=0.5), inits)
        n("Shape", ["input_ids"], ["ids.shape"], name="pos/shape")
        s0 = const("pos.zero", np.array([0], np.int64), inits)
        s1 = const("pos.one", np.array([1], np.int64), inits)
        s2 = const("pos.two", np.array([2], np.int64), inits)
        n("Slice", ["ids.shape", s1, s2], ["ids.seq"], name="pos/seq_len")
        n("Slice", [table, s0, "ids.seq", s0], ["emb.pos"], name="pos/slice")
        pos = "emb.pos"
    else:
        pos = const("emb.pos", randw(seq, hidden, scale=0.5), inits)
    n("Add", ["emb.tok", pos], ["emb.sum"], name="emb/add_pos")

    def layernorm(x, name):
        g = const(f"{name}.g", (1 + 0.1 * RNG.standard_normal(hidden)).astype(np.float32), inits)
        b = const(f"{name}.b", (0.1 * RNG.standard_normal(hidden)).astype(np.float32), inits)
        n("LayerNormalization", [x, g, b], [f"{name}.out"], name=name, axis=-1, epsilon=1e-5)
        return f"{name}.out"

    def linear(x, cin, cout, name):
        w = const(f"{name}.w", randw(cin, cout, scale=1 / np.sqrt(cin)), inits)
        b = const(f"{name}.b", (0.05 * RNG.standard_normal(cout)).astype(np.float32), inits)
        n("MatMul", [x, w], [f"{name}.mm"], name=f"{name}/matmul")
        n("Add", [f"{name}.mm", b], [f"{name}.out"], name=f"{name}/add")
        return f"{name}.out"

    # attention mask [B, S] of 0/1 -> additive [B,1,1,S]
    n("Cast", ["attention_mask"], ["mask.f"], name="mask/cast", to=TensorProto.FLOAT)
    one = const("mask.one", np.array(1, np.float32), inits)
    big = const("mask.big", np.array(-10000, np.float32), inits)
    n("Sub", [one, "mask.f"], ["mask.inv"], name="mask/sub")
    n("Mul", ["mask.inv", big], ["mask.add"], name="mask/mul")
    ax12 = const("mask.axes", np.array([1, 2], np.int64), inits)
    n("Unsqueeze", ["mask.add", ax12], ["mask.4d"], name="mask/unsqueeze")

    x = layernorm("emb.sum", "emb.ln")
    for l in range(layers):
        p = f"l{l}"
        q = linear(x, hidden, hidden, f"{p}.q")
        k = linear(x, hidden, hidden, f"{p}.k")
        v = linear(x, hidden, hidden, f"{p}.v")
        # PyTorch-style dynamic reshape: shape = concat(shape(x)[0:2], [heads, dh])
        n("Shape", [x], [f"{p}.shape"], name=f"{p}/shape")
        i0 = const(f"{p}.i0", np.array([0, 1], np.int64), inits)
        n("Gather", [f"{p}.shape", i0], [f"{p}.bs"], name=f"{p}/gather_bs", axis=0)
        hd = const(f"{p}.hd", np.array([heads, dh], np.int64), inits)
        n("Concat", [f"{p}.bs", hd], [f"{p}.split_shape"], name=f"{p}/concat_shape", axis=0)
        for t in ("q", "k", "v"):
            src = {"q": q, "k": k, "v": v}[t]
            n("Reshape", [src, f"{p}.split_shape"], [f"{p}.{t}.4d"], name=f"{p}/{t}/reshape")
            perm = [0, 2, 3, 1] if t == "k" else [0, 2, 1, 3]
            n("Transpose", [f"{p}.{t}.4d"], [f"{p}.{t}.h"], name=f"{p}/{t}/transpose", perm=perm)
        n("MatMul", [f"{p}.q.h", f"{p}.k.h"], [f"{p}.scores"], name=f"{p}/qk")
        sc = const(f"{p}.scale", np.array(np.sqrt(dh), np.float32), inits)
        n("Div", [f"{p}.scores", sc], [f"{p}.scaled"], name=f"{p}/scale")
        n("Add", [f"{p}.scaled", "mask.4d"], [f"{p}.masked"], name=f"{p}/mask")
        n("Softmax", [f"{p}.masked"], [f"{p}.probs"], name=f"{p}/softmax", axis=-1)
        n("MatMul", [f"{p}.probs", f"{p}.v.h"], [f"{p}.ctx"], name=f"{p}/pv")
        n("Transpose", [f"{p}.ctx"], [f"{p}.ctx.t"], name=f"{p}/ctx/transpose", perm=[0, 2, 1, 3])
        if dynamic:
            hid = const(f"{p}.hidden", np.array([hidden], np.int64), inits)
            n("Concat", [f"{p}.bs", hid], [f"{p}.merge"], name=f"{p}/concat_merge", axis=0)
            merge = f"{p}.merge"
        else:
            merge = const(f"{p}.merge", np.array([batch, seq, hidden], np.int64), inits)
        n("Reshape", [f"{p}.ctx.t", merge], [f"{p}.ctx.m"], name=f"{p}/ctx/reshape")
        o = linear(f"{p}.ctx.m", hidden, hidden, f"{p}.o")
        n("Add", [o, x], [f"{p}.res1"], name=f"{p}/res1")
        x1 = layernorm(f"{p}.res1", f"{p}.ln1")
        h = linear(x1, hidden, ff, f"{p}.ff1")
        # GELU as PyTorch exports it: x * 0.5 * (1 + erf(x / sqrt(2)))
        s2 = const(f"{p}.sqrt2", np.array(np.sqrt(2), np.float32), inits)
        half = const(f"{p}.half", np.array(0.5, np.float32), inits)
        onec = const(f"{p}.one", np.array(1, np.float32), inits)
        n("Div", [h, s2], [f"{p}.g.div"], name=f"{p}/gelu/div")
        n("Erf", [f"{p}.g.div"], [f"{p}.g.erf"], name=f"{p}/gelu/erf")
        n("Add", [f"{p}.g.erf", onec], [f"{p}.g.add"], name=f"{p}/gelu/add")
        n("Mul", [h, f"{p}.g.add"], [f"{p}.g.mul"], name=f"{p}/gelu/mul")
        n("Mul", [f"{p}.g.mul", half], [f"{p}.gelu"], name=f"{p}/gelu/half")
        h2 = linear(f"{p}.gelu", ff, hidden, f"{p}.ff2")
        n("Add", [h2, x1], [f"{p}.res2"], name=f"{p}/res2")
        x = layernorm(f"{p}.res2", f"{p}.ln2")
    n("Identity", [x], ["last_hidden_state"], name="output")
    axes = const("pool.axes", np.array([1], np.int64), inits)
    n("ReduceMean", [x, axes], ["pooled"], name="pool", keepdims=0)
    b, s_ = ("batch", "seq") if dynamic else (batch, seq)
    graph = helper.make_graph(
        nodes, "small_transformer_dynamic" if dynamic else "small_transformer",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, [b, s_]),
         helper.make_tensor_value_info("attention_mask", TensorProto.INT64, [b, s_])],
        [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, [b, s_, hidden]),
         helper.make_tensor_value_info("pooled", TensorProto.FLOAT, [b, hidden])],
        inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], producer_name="kiln-tests")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for name, model in (("small_cnn", small_cnn()), ("small_transformer", small_transformer()),
                        ("dynamic/small_transformer_dynamic", small_transformer(dynamic=True))):
        os.makedirs(os.path.dirname(os.path.join(args.out, name)), exist_ok=True)
        model.ir_version = 8
        onnx.checker.check_model(model, full_check=True)
        path = os.path.join(args.out, f"{name}.onnx")
        onnx.save(model, path)
        print(f"wrote {path} ({os.path.getsize(path)} bytes)")


if __name__ == "__main__":
    main()
