"""numpy float64 (and int16/uint16/uint32/uint64) arrays bind to engine IO
tensors of Kiln's wider DataTypes; float64 weights stay refused, as in tensorrt."""
import numpy as np
import pytest

import kiln as trt
from kiln_onnx_util import build_engine, model_bytes

pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402


@pytest.mark.parametrize("np_type,onnx_type,trt_type", [
    (np.float64, TensorProto.DOUBLE, trt.DataType.DOUBLE),
    (np.int16, TensorProto.INT16, trt.DataType.INT16),
    (np.uint32, TensorProto.UINT32, trt.DataType.UINT32),
])
def test_wide_io_arrays_bind_and_compute_in_their_type(recorder, np_type, onnx_type, trt_type):
    model = model_bytes(
        [helper.make_node("Add", ["a", "b"], ["c"])],
        [helper.make_tensor_value_info("a", onnx_type, [2, 3]), helper.make_tensor_value_info("b", onnx_type, [1, 3])],
        [helper.make_tensor_value_info("c", onnx_type, [2, 3])])
    engine, _ = build_engine(model, recorder)
    assert engine is not None, recorder.errors()
    assert engine.get_tensor_dtype("a") == trt_type and engine.get_tensor_dtype("c") == trt_type
    assert trt.nptype(trt_type) is np_type
    if np_type is np.float64:
        # Values float32 can't hold: a float32 computation would round them.
        a = np.array([[1 + 2.0**-40, 1e300, -3.25], [0.1, 0.2, 0.3]], np.float64)
        b = np.array([[2.0**-45, 1e300, 1e-310]], np.float64)
    else:
        a = np.array([[1, 2, 3], [400, 500, 600]], np_type)
        b = np.array([[7, 8, 9]], np_type)
    c = np.zeros((2, 3), np_type)
    ctx = engine.create_execution_context()
    ctx.set_tensor_address("a", a)
    ctx.set_tensor_address("b", b)
    ctx.set_tensor_address("c", c)
    assert ctx.execute_async_v3(0)
    np.testing.assert_array_equal(c, a + b)
    with pytest.raises(TypeError, match="the array is float32"):
        ctx.set_tensor_address("a", np.ones((2, 3), np.float32))


def test_float64_weights_are_still_refused():
    with pytest.raises(TypeError, match="float64"):
        trt.Weights(np.zeros(3, np.float64))
