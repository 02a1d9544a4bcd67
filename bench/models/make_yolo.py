#!/usr/bin/env python3
"""Writes a YOLOv8n-shaped detector (random weights, no PyTorch needed) for the benchmarks.

A small CSP/C2f conv net as ultralytics exports it (BatchNorm folded into the conv bias, SiLU as
x * Sigmoid(x)): backbone of strided 3x3 convs and C2f blocks (Split, bottlenecks with residual
Add, Concat), SPPF (three chained 5x5 MaxPools + Concat), a PAN neck with nearest Resize x2
(Upsample) and Concat, and a decoupled head per level (box 64 + class 80 channels) whose
outputs are flattened and concatenated to [batch, 144, 8400] at 640x640.
  python3 bench/models/make_yolo.py --out /tmp/yolo.onnx [--batch 8] [--size 640]
"""
import argparse

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def build(batch=1, size=640, width=0.25, depth=0.34, classes=80, seed=0):
    rng = np.random.default_rng(seed)
    nodes, inits = [], []
    counter = [0]

    def name(p):
        counter[0] += 1
        return f"{p}_{counter[0]}"

    def const(arr, p="c"):
        n_ = name(p)
        inits.append(numpy_helper.from_array(np.asarray(arr), n_))
        return n_

    def conv(x, cin, cout, k=1, s=1, act=True):
        w = const((rng.standard_normal((cout, cin, k, k)) * np.sqrt(2.0 / (cin * k * k))).astype(np.float32), "w")
        b = const((0.1 * rng.standard_normal(cout)).astype(np.float32), "b")
        y = name("conv")
        nodes.append(helper.make_node("Conv", [x, w, b], [y], name=y, kernel_shape=[k, k], strides=[s, s],
                                      pads=[k // 2] * 4))
        if not act:
            return y
        sg, m = name("sigmoid"), name("silu")
        nodes.append(helper.make_node("Sigmoid", [y], [sg], name=sg))
        nodes.append(helper.make_node("Mul", [y, sg], [m], name=m))
        return m

    def concat(xs):
        y = name("concat")
        nodes.append(helper.make_node("Concat", xs, [y], name=y, axis=1))
        return y

    def c2f(x, cin, cout, n, shortcut):
        c = cout // 2
        y = conv(x, cin, 2 * c, 1)
        a, b = name("split"), name("split")
        nodes.append(helper.make_node("Split", [y, const(np.array([c, c], np.int64), "split")], [a, b], name=a, axis=1))
        parts = [a, b]
        for _ in range(n):
            t = conv(conv(parts[-1], c, c, 3), c, c, 3)
            if shortcut:
                r = name("add")
                nodes.append(helper.make_node("Add", [parts[-1], t], [r], name=r))
                t = r
            parts.append(t)
        return conv(concat(parts), (2 + n) * c, cout, 1)

    def sppf(x, cin, cout):
        c = cin // 2
        y = conv(x, cin, c, 1)
        pools = [y]
        for _ in range(3):
            p = name("maxpool")
            nodes.append(helper.make_node("MaxPool", [pools[-1]], [p], name=p, kernel_shape=[5, 5], pads=[2] * 4))
            pools.append(p)
        return conv(concat(pools), 4 * c, cout, 1)

    def upsample(x):
        y = name("resize")
        nodes.append(helper.make_node("Resize", [x, "", const(np.array([1, 1, 2, 2], np.float32), "scales")], [y], name=y,
                                      mode="nearest", coordinate_transformation_mode="asymmetric",
                                      nearest_mode="floor"))
        return y

    ch = lambda c: int(c * width)
    nb = lambda n: max(round(n * depth), 1)
    x = conv("images", 3, ch(64), 3, 2)                                   # P1/2
    x = conv(x, ch(64), ch(128), 3, 2)                                    # P2/4
    x = c2f(x, ch(128), ch(128), nb(3), True)
    x = conv(x, ch(128), ch(256), 3, 2)                                   # P3/8
    p3 = c2f(x, ch(256), ch(256), nb(6), True)
    x = conv(p3, ch(256), ch(512), 3, 2)                                  # P4/16
    p4 = c2f(x, ch(512), ch(512), nb(6), True)
    x = conv(p4, ch(512), ch(1024), 3, 2)                                 # P5/32
    x = c2f(x, ch(1024), ch(1024), nb(3), True)
    p5 = sppf(x, ch(1024), ch(1024))
    # PAN neck
    h4 = c2f(concat([upsample(p5), p4]), ch(1024) + ch(512), ch(512), nb(3), False)
    o3 = c2f(concat([upsample(h4), p3]), ch(512) + ch(256), ch(256), nb(3), False)
    o4 = c2f(concat([conv(o3, ch(256), ch(256), 3, 2), h4]), ch(256) + ch(512), ch(512), nb(3), False)
    o5 = c2f(concat([conv(o4, ch(512), ch(512), 3, 2), p5]), ch(512) + ch(1024), ch(1024), nb(3), False)
    # Decoupled head: box (4 * 16 DFL bins) and class branches per level.
    reg_max, outs = 16, []
    c2, c3 = max(16, ch(256) // 4, 4 * reg_max), max(ch(256), min(classes, 100))
    for lvl, cin in ((o3, ch(256)), (o4, ch(512)), (o5, ch(1024))):
        box = conv(conv(conv(lvl, cin, c2, 3), c2, c2, 3), c2, 4 * reg_max, 1, act=False)
        cls = conv(conv(conv(lvl, cin, c3, 3), c3, c3, 3), c3, classes, 1, act=False)
        r = name("reshape")
        nodes.append(helper.make_node("Reshape", [concat([box, cls]), const(np.array([batch, 4 * reg_max + classes, -1],
                                                                                     np.int64), "shape")], [r], name=r))
        outs.append(r)
    nodes.append(helper.make_node("Concat", outs, ["output0"], name="head_concat", axis=2))
    anchors = sum((size // s) ** 2 for s in (8, 16, 32))
    graph = helper.make_graph(nodes, "yolo_csp",
                              [helper.make_tensor_value_info("images", TensorProto.FLOAT, [batch, 3, size, size])],
                              [helper.make_tensor_value_info("output0", TensorProto.FLOAT,
                                                             [batch, 4 * reg_max + classes, anchors])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="kiln-bench")
    model.ir_version = 8
    return model


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--size", type=int, default=640)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    m = build(a.batch, a.size)
    onnx.checker.check_model(m, full_check=True)
    onnx.save(m, a.out)
    print("wrote", a.out)
