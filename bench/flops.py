"""FLOPs of an ONNX graph as the benchmark counts them: 2 x the MACs of Conv, ConvTranspose,
Gemm and MatMul (everything else is memory-bound and ignored, as roofline tables do).

Shapes come from ONNX shape inference with data propagation (so PyTorch-style
Shape->Gather->Concat->Reshape chains resolve); `overrides` pins dynamic input dims first.
"""
import numpy as np
import onnx
from onnx import shape_inference


def _attr(node, name, default):
    for a in node.attribute:
        if a.name == name:
            return onnx.helper.get_attribute_value(a)
    return default


def _shapes(model):
    shapes = {}
    for vi in list(model.graph.value_info) + list(model.graph.input) + list(model.graph.output):
        t = vi.type.tensor_type
        if t.HasField("shape"):
            dims = [d.dim_value if d.HasField("dim_value") else None for d in t.shape.dim]
            shapes[vi.name] = dims
    for init in model.graph.initializer:
        shapes[init.name] = list(init.dims)
    return shapes


def _known(dims):
    return dims is not None and all(d is not None and d > 0 for d in dims)


def _shapes_by_running(path, names, feeds):
    """Shapes of `names` from one ONNX Runtime run that exposes them as graph outputs."""
    import onnxruntime as ort
    model = onnx.load(path)
    have = {o.name for o in model.graph.output}
    for n in names:
        if n not in have:
            model.graph.output.append(onnx.helper.make_empty_tensor_value_info(n))
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    outs = sess.run(list(names), feeds)
    return {n: list(o.shape) for n, o in zip(names, outs)}


def count_flops(path, overrides=None, feeds=None):
    """Returns (flops, unknown): unknown lists the nodes whose shapes could not be resolved.

    With `feeds` (input name -> array), shapes that inference leaves open are taken from one
    ONNX Runtime run (e.g. dims computed by Mul of gathered dims in older exports)."""
    model = onnx.load(path, load_external_data=False)
    # Keep only initializer shapes: inference needs no weight values, and dropping them keeps
    # a 400 MB model from being copied around.
    for init in model.graph.initializer:
        if init.data_type == onnx.TensorProto.FLOAT and len(init.dims) >= 2:
            init.ClearField("raw_data")
            init.ClearField("float_data")
            init.data_location = onnx.TensorProto.DEFAULT
    for inp in model.graph.input:
        if overrides and inp.name in overrides:
            dims = inp.type.tensor_type.shape.dim
            for d, v in zip(dims, overrides[inp.name]):
                d.ClearField("dim_param")
                d.dim_value = int(v)
    try:
        model = shape_inference.infer_shapes(model, data_prop=True)
    except Exception:  # noqa: BLE001 - emptied weights may upset strict checks; count what we can
        pass
    shapes = _shapes(model)
    if feeds is not None:
        inits = {i.name for i in model.graph.initializer}
        missing = []
        for node in model.graph.node:
            if node.op_type in ("Conv", "ConvTranspose", "Gemm", "MatMul"):
                for t in list(node.input[:2]) + [node.output[0]]:
                    if t and t not in inits and not _known(shapes.get(t)) and t not in missing:
                        missing.append(t)
        if missing:
            shapes.update(_shapes_by_running(path, missing, feeds))
    total, unknown = 0, []
    for node in model.graph.node:
        op = node.op_type
        if op not in ("Conv", "ConvTranspose", "Gemm", "MatMul"):
            continue
        ins = [shapes.get(i) for i in node.input]
        out = shapes.get(node.output[0])
        if op in ("Conv", "ConvTranspose"):
            w, x = ins[1], ins[0]
            if not (_known(w) and _known(x) and _known(out)):
                unknown.append(node.name or node.output[0])
                continue
            # weights are [Cout, Cin/group, k...]: each output element costs Cin/group * k MACs
            if op == "Conv":
                macs = int(np.prod(out)) * w[1] * int(np.prod(w[2:]))
            else:  # ConvTranspose weights are [Cin, Cout/group, k...]: each input element scatters
                macs = int(np.prod(x)) * w[1] * int(np.prod(w[2:]))
        elif op == "Gemm":
            a, b = ins[0], ins[1]
            if not (_known(a) and _known(b)):
                unknown.append(node.name or node.output[0])
                continue
            m, k = (a[1], a[0]) if _attr(node, "transA", 0) else (a[0], a[1])
            n = b[0] if _attr(node, "transB", 0) else b[1]
            macs = m * n * k
        else:
            a, b = ins[0], ins[1]
            if not (_known(a) and _known(b) and _known(out)):
                unknown.append(node.name or node.output[0])
                continue
            k = a[-1]
            macs = int(np.prod(out)) * k
        total += 2 * macs
    return total, unknown
