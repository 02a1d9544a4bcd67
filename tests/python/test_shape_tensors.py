"""Shape-tensor inputs as tensorrt has them: IOptimizationProfile.set_shape_input,
engine.is_shape_inference_io / get_tensor_profile_values, and the values given
to the context as a host int array with set_tensor_address."""
import numpy as np
import pytest

import kiln as trt
from kiln_onnx_util import build_engine, model_bytes

pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402


def expand_model(shape_type=TensorProto.INT64):
    """x [1, 3] -> Expand(x, shape) -> y [shape[0], shape[1]]."""
    return model_bytes(
        [helper.make_node("Expand", ["x", "shape"], ["y"])],
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3]),
         helper.make_tensor_value_info("shape", shape_type, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])


def with_range(lo, opt, hi, name="shape"):
    def configure(builder, network, config):
        profile = builder.create_optimization_profile()
        profile.set_shape_input(name, lo, opt, hi)
        assert profile.get_shape_input(name) == [list(lo), list(opt), list(hi)]
        config.add_optimization_profile(profile)
    return configure


def test_profile_keeps_the_values():
    builder = trt.Builder(trt.Logger(trt.Logger.ERROR))
    profile = builder.create_optimization_profile()
    assert profile.get_shape_input("shape") == []
    profile.set_shape_input("shape", (1, 3), (2, 3), (4, 3))
    assert profile.get_shape_input("shape") == [[1, 3], [2, 3], [4, 3]]
    with pytest.raises(ValueError, match="same number"):
        profile.set_shape_input("shape", (1, 3), (2, 3), (4,))


@pytest.mark.parametrize("dtype,onnx_type", [(np.int64, TensorProto.INT64), (np.int32, TensorProto.INT32)])
def test_values_from_a_host_array_decide_the_shape_per_run(recorder, dtype, onnx_type):
    engine, _ = build_engine(expand_model(onnx_type), recorder, with_range((1, 3), (2, 3), (4, 3)))
    assert engine is not None, recorder.errors()
    assert engine.is_shape_inference_io("shape")
    assert not engine.is_shape_inference_io("x") and not engine.is_shape_inference_io("y")
    assert engine.get_tensor_profile_values(0, "shape") == [[1, 3], [2, 3], [4, 3]]
    with pytest.raises(ValueError, match="not a shape-tensor input"):
        engine.get_tensor_profile_values(0, "x")
    with pytest.raises(ValueError, match="no input or output tensor named"):
        engine.is_shape_inference_io("nope")

    ctx = engine.create_execution_context()
    x = np.array([[1, 2, 3]], np.float32)
    shape = np.array([3, 3], dtype)
    assert ctx.set_tensor_address("x", x)
    assert ctx.set_tensor_address("shape", shape)
    assert tuple(ctx.get_tensor_shape("y")) == (3, 3)
    y = np.full((3, 3), np.nan, np.float32)
    assert ctx.set_tensor_address("y", y)
    assert ctx.execute_async_v3(0)
    np.testing.assert_array_equal(y, np.broadcast_to(x, (3, 3)))

    # New values in the same array: the next run takes them (tensorrt reads them at enqueue).
    shape[0] = 2
    assert ctx.infer_shapes() == []
    assert tuple(ctx.get_tensor_shape("y")) == (2, 3)
    y2 = np.full((2, 3), np.nan, np.float32)
    ctx.set_tensor_address("y", y2)
    assert ctx.execute_async_v3(0)
    np.testing.assert_array_equal(y2, np.broadcast_to(x, (2, 3)))

    # Outside the profile: the run fails and the logger says why.
    shape[0] = 5
    assert ctx.execute_async_v3(0) is False
    assert any("outside optimization profile 0" in m for m in recorder.errors()), recorder.errors()


def test_wrong_shape_values_array_raises():
    engine, _ = build_engine(expand_model(), trt.Logger(trt.Logger.ERROR), with_range((1, 3), (2, 3), (4, 3)))
    ctx = engine.create_execution_context()
    with pytest.raises(TypeError, match="int64.*int32"):
        ctx.set_tensor_address("shape", np.array([2, 3], np.int32))
    with pytest.raises(ValueError, match="shape"):
        ctx.set_tensor_address("shape", np.array([2, 3, 1], np.int64))


def test_build_without_values_for_a_shape_input_fails_with_the_reason(recorder):
    def wrong(builder, network, config):
        profile = builder.create_optimization_profile()
        profile.set_shape_input("shape", (1, 3, 1), (1, 3, 1), (1, 3, 1))
        config.add_optimization_profile(profile)
    engine, _ = build_engine(expand_model(), recorder, wrong)
    assert engine is None
    assert any("gives 3 values, the input has 2" in m for m in recorder.errors()), recorder.errors()
