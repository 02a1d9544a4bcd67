"""The convenience layer: kiln.build(...) -> Engine, Engine.infer, progress output."""
import os
import subprocess
import sys

import numpy as np
import pytest

import kiln
from conftest import MODELS, assert_close, ort_run

SMALL_CNN = os.path.join(MODELS, "small_cnn.onnx")


def dynamic_model():
    from onnx import TensorProto, helper

    nodes = [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Add", ["r", "x"], ["y"])]
    graph = helper.make_graph(nodes, "dyn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_build_and_infer_match_onnxruntime(tmp_path):
    engine = kiln.build(SMALL_CNN)
    assert engine.inputs == {"input": ((2, 3, 32, 32), np.dtype(np.float32))}
    assert set(engine.outputs) == {"probs", "logits"}
    x = np.random.default_rng(0).standard_normal((2, 3, 32, 32))  # float64: cast to float32
    out = engine.infer({"input": x})
    expected = ort_run(SMALL_CNN, {"input": x.astype(np.float32)})
    for name in expected:
        assert_close(out[name], expected[name])
    engine.save(tmp_path / "cnn.plan")
    again = kiln.load(tmp_path / "cnn.plan")
    assert_close(again.infer({"input": x})["logits"], expected["logits"])
    assert "kiln.Engine" in repr(engine)


def test_infer_checks_its_inputs():
    engine = kiln.build(SMALL_CNN)
    with pytest.raises(KeyError, match="missing \\['input'\\]"):
        engine.infer({})
    with pytest.raises(ValueError, match="has shape \\(2, 3, 32, 32\\)"):
        engine.infer({"input": np.zeros((1, 3, 32, 32), np.float32)})
    with pytest.raises(TypeError, match="is float32, got an array of complex64"):
        engine.infer({"input": np.zeros((2, 3, 32, 32), np.complex64)})


def test_dynamic_inputs_need_shapes():
    pytest.importorskip("onnx")
    with pytest.raises(ValueError, match="input \"x\" has dynamic shape .*shapes="):
        kiln.build(dynamic_model())
    with pytest.raises(ValueError, match="not an input"):
        kiln.build(dynamic_model(), shapes={"x": (3, 4), "z": (1,)})
    engine = kiln.build(dynamic_model(), shapes={"x": (3, 4)})
    x = np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4)
    assert_close(engine.infer({"x": x})["y"], np.maximum(x, 0) + x)


def test_timing_cache_file(tmp_path):
    cache = tmp_path / "timing.cache"
    kiln.build(SMALL_CNN, timing_cache=str(cache))
    first = cache.read_bytes()
    assert len(first) > 2
    kiln.build(SMALL_CNN, timing_cache=str(cache))  # reads it back
    assert cache.read_bytes() == first


def test_progress_bar_when_asked(capsys):
    kiln.build(SMALL_CNN, progress=True)
    err = capsys.readouterr().err
    assert "building [" in err and "built " in err and "-> " in err


def test_quiet_when_piped():
    code = "import kiln; kiln.build(%r)" % SMALL_CNN
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "" and proc.stderr == ""
