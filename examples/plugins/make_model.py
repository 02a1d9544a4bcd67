#!/usr/bin/env python3
"""Writes custom_swish.onnx: y = CustomSwish(2 * x, beta=1.5) + 0.5.

CustomSwish is not an ONNX op: the node lives in domain "kiln.examples" and
Kiln's parser hands it to the plugin registry (the plugin comes from
libkiln_example_plugins.so, see custom_swish.cc). Like TensorRT's parser, Kiln
reads the optional node attributes plugin_version (default "1") and
plugin_namespace (default ""); every other attribute becomes a plugin field.

    python3 examples/plugins/make_model.py [--out examples/plugins/custom_swish.onnx]
"""
import argparse
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def make_model():
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 4, 5])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3, 4, 5])
    two = numpy_helper.from_array(np.array(2.0, dtype=np.float32), "two")
    half = numpy_helper.from_array(np.array(0.5, dtype=np.float32), "half")
    nodes = [
        helper.make_node("Mul", ["x", "two"], ["x2"], name="scale"),
        helper.make_node("CustomSwish", ["x2"], ["s"], name="swish", domain="kiln.examples",
                         beta=1.5, plugin_version="1"),
        helper.make_node("Add", ["s", "half"], ["y"], name="shift"),
    ]
    graph = helper.make_graph(nodes, "custom_swish", [x], [y], initializer=[two, half])
    model = helper.make_model(graph, producer_name="kiln-examples",
                              opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("kiln.examples", 1)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(here, "custom_swish.onnx"))
    args = ap.parse_args()
    onnx.save(make_model(), args.out)
    print("wrote", args.out)


if __name__ == "__main__":
    main()
