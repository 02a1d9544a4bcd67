"""Failures: None/False where tensorrt returns them (with the reason logged),
exceptions carrying the logged message everywhere else."""
import os
import sys

import pytest

import kiln as trt
from conftest import MODELS

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402


def unsupported_model():
    node = helper.make_node("NoSuchOp", ["x"], ["y"], name="weird")
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def test_parse_returns_false_and_keeps_errors(recorder):
    builder = trt.Builder(recorder)
    network = builder.create_network()
    parser = trt.OnnxParser(network, recorder)
    assert parser.parse(b"definitely not onnx") is False
    assert parser.num_errors >= 1
    err = parser.get_error(0)
    assert err.code() == trt.ErrorCode.MODEL_DESERIALIZE_FAILED and err.desc()
    assert recorder.errors(), "the parser logs its errors too"
    parser.clear_errors()
    assert parser.num_errors == 0

    assert parser.parse(unsupported_model()) is False
    err = parser.get_error(0)
    assert "NoSuchOp" in err.desc() and err.node_name() == "weird" and err.node_operator() == "NoSuchOp"
    assert "In node 0 with name: weird and operator: NoSuchOp" in str(err)
    with pytest.raises(IndexError):
        parser.get_error(parser.num_errors)
    with pytest.raises(TypeError, match="buffer protocol"):
        parser.parse(12345)
    assert parser.parse_from_file("/no/such/file.onnx") is False


def test_build_failure_returns_none_with_the_reason_logged(recorder):
    builder = trt.Builder(recorder)
    network = builder.create_network()
    network.add_input("x", trt.float32, (1, 4))  # no output marked
    assert builder.build_serialized_network(network, builder.create_builder_config()) is None
    assert any("no outputs" in m for m in recorder.errors())


def test_corrupt_plan_returns_none_with_the_reason_logged(recorder):
    runtime = trt.Runtime(recorder)
    assert runtime.deserialize_cuda_engine(b"KILNPLAN" + b"\0" * 100) is None
    assert recorder.errors()
    with pytest.raises(TypeError, match="buffer protocol"):
        runtime.deserialize_cuda_engine(None)


def test_execution_failure_returns_false_with_the_reason_logged(recorder):
    plan = trt.build(os.path.join(MODELS, "small_cnn.onnx")).serialize()
    engine = trt.Runtime(recorder).deserialize_cuda_engine(plan)
    context = engine.create_execution_context()
    assert context.execute_async_v3(0) is False  # no addresses set
    assert recorder.errors()
    assert context.set_input_shape("input", (1, 3, 32, 32)) is False
    assert any("setInputShape" in m and "[1,3,32,32]" in m for m in recorder.errors())


def test_convenience_layer_raises(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(unsupported_model())
    with pytest.raises(trt.ParseError, match="NoSuchOp") as info:
        trt.build(str(bad))
    assert isinstance(info.value, trt.KilnError) and isinstance(info.value, RuntimeError)
    with pytest.raises(trt.KilnError, match="plan could not be loaded"):
        trt.load(b"garbage")
    with pytest.raises(TypeError):
        trt.build(42)


def test_a_failing_python_logger_does_not_crash(monkeypatch):
    seen = []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: seen.append(u.exc_value))

    class Broken(trt.ILogger):
        def __init__(self):
            trt.ILogger.__init__(self)

        def log(self, severity, msg):
            raise RuntimeError("logger bug")

    logger = Broken()
    builder = trt.Builder(logger)
    network = builder.create_network()
    network.add_input("x", trt.float32, (1, 4))
    assert builder.build_serialized_network(network, builder.create_builder_config()) is None
    assert any("logger bug" in str(e) for e in seen)
