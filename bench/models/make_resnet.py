#!/usr/bin/env python3
"""Writes torchvision-shaped ResNet-18/34/50 ONNX graphs with random weights (no PyTorch needed).

The graph is what torchvision's export gives (Conv, BatchNormalization, Relu, MaxPool, Add,
GlobalAveragePool, Flatten, Gemm), so Kiln's passes see the same patterns.
  python3 bench/models/make_resnet.py --depth 50 --batch 1 --out /tmp/resnet50.onnx
"""
import argparse

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

LAYERS = {18: ("basic", [2, 2, 2, 2]), 34: ("basic", [3, 4, 6, 3]), 50: ("bottleneck", [3, 4, 6, 3])}


def build(depth, batch, seed=0):
    rng = np.random.default_rng(seed)
    nodes, inits = [], []
    counter = [0]

    def name(p):
        counter[0] += 1
        return f"{p}_{counter[0]}"

    def conv_bn(x, cin, cout, k, stride, relu):
        w = name("w")
        inits.append(numpy_helper.from_array((rng.standard_normal((cout, cin, k, k)) * np.sqrt(2.0 / (cin * k * k))).astype(np.float32), w))
        c = name("conv")
        nodes.append(helper.make_node("Conv", [x, w], [c], kernel_shape=[k, k], strides=[stride] * 2, pads=[k // 2] * 4))
        bn = [name(p) for p in ("g", "b", "m", "v")]
        vals = [1 + 0.1 * rng.standard_normal(cout), 0.1 * rng.standard_normal(cout), 0.1 * rng.standard_normal(cout),
                0.5 + rng.random(cout)]
        for n_, v in zip(bn, vals):
            inits.append(numpy_helper.from_array(v.astype(np.float32), n_))
        y = name("bn")
        nodes.append(helper.make_node("BatchNormalization", [c] + bn, [y]))
        if relu:
            r = name("relu")
            nodes.append(helper.make_node("Relu", [y], [r]))
            return r
        return y

    kind, blocks = LAYERS[depth]
    x = conv_bn("input", 3, 64, 7, 2, True)
    p = name("pool")
    nodes.append(helper.make_node("MaxPool", [x], [p], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]))
    x, cin = p, 64
    for stage, n in enumerate(blocks):
        width = 64 * 2 ** stage
        cout = width * (4 if kind == "bottleneck" else 1)
        for b in range(n):
            stride = 2 if b == 0 and stage > 0 else 1
            if kind == "basic":
                y = conv_bn(x, cin, width, 3, stride, True)
                y = conv_bn(y, width, cout, 3, 1, False)
            else:
                y = conv_bn(x, cin, width, 1, 1, True)
                y = conv_bn(y, width, width, 3, stride, True)
                y = conv_bn(y, width, cout, 1, 1, False)
            sc = conv_bn(x, cin, cout, 1, stride, False) if (stride != 1 or cin != cout) else x
            a, r = name("add"), name("relu")
            nodes.append(helper.make_node("Add", [y, sc], [a]))
            nodes.append(helper.make_node("Relu", [a], [r]))
            x, cin = r, cout
    g, f = name("gap"), name("flat")
    nodes.append(helper.make_node("GlobalAveragePool", [x], [g]))
    nodes.append(helper.make_node("Flatten", [g], [f], axis=1))
    inits.append(numpy_helper.from_array((rng.standard_normal((1000, cin)) / np.sqrt(cin)).astype(np.float32), "fc.w"))
    inits.append(numpy_helper.from_array(np.zeros(1000, np.float32), "fc.b"))
    nodes.append(helper.make_node("Gemm", [f, "fc.w", "fc.b"], ["logits"], transB=1))
    graph = helper.make_graph(nodes, f"resnet{depth}",
                              [helper.make_tensor_value_info("input", TensorProto.FLOAT, [batch, 3, 224, 224])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [batch, 1000])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--depth", type=int, default=50, choices=sorted(LAYERS))
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    onnx.save(build(a.depth, a.batch), a.out)
    print("wrote", a.out)
