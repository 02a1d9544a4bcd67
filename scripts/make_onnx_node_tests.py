#!/usr/bin/env python3
"""Writes ONNX's own backend test cases once into a cache for kiln_onnx_conformance.

  python3 scripts/make_onnx_node_tests.py [--out DIR] [--force]

DIR defaults to $KILN_ONNX_TESTS, else build/onnx-node-tests. Layout (the one
ONNX Runtime's onnx_test_runner reads), one folder per kind:

  DIR/node/<test>/model.onnx + test_data_set_0/input_N.pb, output_N.pb
  DIR/{light,pytorch-converted,pytorch-operator,simple}/<test>/...   (when the wheel has them)
  DIR/STAMP          "onnx <version> kiln-cases <N>": a matching stamp means done

Node cases come from onnx.backend.test.case.node.collect_testcases() (the cases
themselves, so this works with wheels that no longer ship data/node). The model
tests come from the wheel's onnx/backend/test/data/<kind>/; `light` models ship
only expected outputs, so their inputs are made as ONNX's runner makes them
(arange / n, seed-free). A kind the wheel lacks is listed in DIR/MISSING_KINDS.
Writes into a temporary folder and renames it, so an interrupted run leaves no
half-written cache.
"""
import argparse
import os
import shutil
import sys
import tempfile

# Bump when the layout or the cases written change, so old caches are rebuilt.
FORMAT = 1
MODEL_KINDS = ["light", "pytorch-converted", "pytorch-operator", "simple"]


def default_out():
    env = os.environ.get("KILN_ONNX_TESTS")
    if env:
        return env
    return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "build", "onnx-node-tests")


def stamp_text(version):
    return f"onnx {version} kiln-cases {FORMAT}\n"


def installed_onnx_version():
    try:
        from importlib.metadata import version
        return version("onnx")
    except Exception:  # noqa: BLE001 - no onnx: the caller reports it
        return None


def write_proto(path, proto):
    with open(path, "wb") as f:
        f.write(proto.SerializeToString())


def value_proto(value, vi):
    """The proto for one input/output value, by the graph's declared type (as onnx's cmd_tools)."""
    from onnx import TensorProto, numpy_helper
    t = vi.type
    if t.HasField("sequence_type"):
        return numpy_helper.from_list(value, vi.name)
    if t.HasField("optional_type"):
        return numpy_helper.from_optional(value, vi.name)
    if t.HasField("map_type"):
        return numpy_helper.from_dict(value, vi.name)
    if isinstance(value, TensorProto):
        return value
    return numpy_helper.from_array(value, vi.name)


def write_node_cases(root):
    import warnings
    from onnx.backend.test.case.node import collect_testcases
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the case generators divide by zero on purpose
        cases = collect_testcases(None)  # None: every op (1.17 takes the op type as an argument)
    for case in cases:
        case_dir = os.path.join(root, "node", case.name)
        os.makedirs(case_dir)
        write_proto(os.path.join(case_dir, "model.onnx"), case.model)
        g = case.model.graph
        for k, (inputs, outputs) in enumerate(case.data_sets):
            data_dir = os.path.join(case_dir, f"test_data_set_{k}")
            os.makedirs(data_dir)
            for j, value in enumerate(inputs):
                write_proto(os.path.join(data_dir, f"input_{j}.pb"), value_proto(value, g.input[j]))
            for j, value in enumerate(outputs):
                write_proto(os.path.join(data_dir, f"output_{j}.pb"), value_proto(value, g.output[j]))
    return len(cases)


def light_inputs(model):
    """Inputs of a `light` model, made as onnx's runner does (generate_dummy_data, random=False)."""
    import numpy as np
    inits = {i.name for i in model.graph.initializer}
    out = []
    for x in model.graph.input:
        if x.name in inits:
            continue
        shape = tuple(d.dim_value if d.HasField("dim_value") else 1 for d in x.type.tensor_type.shape.dim)
        n = int(np.prod(shape))
        out.append((x.name, (np.arange(n).reshape(shape) / n).astype(np.float32)))
    return out


def write_model_cases(root, data_dir):
    """Copies the wheel's model tests; returns ({kind: count}, [missing kinds])."""
    import onnx
    from onnx import numpy_helper
    counts, missing = {}, []
    for kind in MODEL_KINDS:
        src = os.path.join(data_dir, kind)
        if not os.path.isdir(src):
            missing.append(kind)
            continue
        n = 0
        if kind == "light":
            for f in sorted(os.listdir(src)):
                if not f.endswith(".onnx"):
                    continue
                stem = f[: -len(".onnx")]
                expected = [os.path.join(src, f"{stem}_output_{i}.pb") for i in range(64)]
                expected = [e for e in expected if os.path.exists(e)]
                if not expected:
                    continue  # ONNX's runner would compute them with its reference evaluator: not offline
                model = onnx.load(os.path.join(src, f))
                case_dir = os.path.join(root, kind, stem)
                data = os.path.join(case_dir, "test_data_set_0")
                os.makedirs(data)
                shutil.copy(os.path.join(src, f), os.path.join(case_dir, "model.onnx"))
                for j, (name, arr) in enumerate(light_inputs(model)):
                    write_proto(os.path.join(data, f"input_{j}.pb"), numpy_helper.from_array(arr, name))
                for j, e in enumerate(expected):
                    shutil.copy(e, os.path.join(data, f"output_{j}.pb"))
                n += 1
        else:
            for name in sorted(os.listdir(src)):
                case_src = os.path.join(src, name)
                if not os.path.exists(os.path.join(case_src, "model.onnx")):
                    continue  # a download-only `real` style entry
                shutil.copytree(case_src, os.path.join(root, kind, name))
                n += 1
        counts[kind] = n
    return counts, missing


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=default_out(), help="cache folder (default: %(default)s)")
    ap.add_argument("--force", action="store_true", help="rewrite even when the stamp matches")
    args = ap.parse_args()
    out = os.path.abspath(args.out)

    version = installed_onnx_version()
    if version is None:
        print("make_onnx_node_tests: the onnx Python package is missing (bash scripts/setup.sh installs it)",
              file=sys.stderr)
        return 2
    stamp = os.path.join(out, "STAMP")
    if not args.force and os.path.exists(stamp):
        with open(stamp) as f:
            if f.read() == stamp_text(version):
                print(f"make_onnx_node_tests: {out} is up to date (onnx {version})")
                return 0

    import onnx
    data_dir = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data")
    parent = os.path.dirname(out)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".onnx-cases-", dir=parent)
    try:
        n_node = write_node_cases(tmp)
        counts, missing = write_model_cases(tmp, data_dir)
        with open(os.path.join(tmp, "MISSING_KINDS"), "w") as f:
            f.writelines(k + "\n" for k in missing)
        with open(os.path.join(tmp, "STAMP"), "w") as f:
            f.write(stamp_text(version))
        if os.path.exists(out):
            shutil.rmtree(out)
        os.rename(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    kinds = ", ".join(f"{k} {n}" for k, n in counts.items())
    print(f"make_onnx_node_tests: wrote {n_node} node cases ({kinds}) to {out} (onnx {version})"
          + (f"; the wheel has no {', '.join(missing)}" if missing else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
