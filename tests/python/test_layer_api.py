"""Networks built layer by layer from numpy weights, checked against numpy."""
import numpy as np
import pytest

import kiln as trt
from conftest import assert_close


def run(builder, network, feeds):
    plan = builder.build_serialized_network(network, builder.create_builder_config())
    assert plan is not None
    engine = trt.Runtime(builder.logger).deserialize_cuda_engine(plan)
    context = engine.create_execution_context()
    outputs = {}
    for i in range(engine.num_io_tensors):
        name = engine.get_tensor_name(i)
        if engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT:
            context.set_tensor_address(name, feeds[name])
        else:
            outputs[name] = np.empty(tuple(engine.get_tensor_shape(name)),
                                     trt.nptype(engine.get_tensor_dtype(name)))
            context.set_tensor_address(name, outputs[name])
    assert context.execute_async_v3(0)
    return outputs


def conv2d(x, w, b, stride, pad):
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    win = np.lib.stride_tricks.sliding_window_view(xp, w.shape[2:], axis=(2, 3))[:, :, ::stride, ::stride]
    return np.einsum("nchwij,kcij->nkhw", win, w) + b[None, :, None, None]


def softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def test_small_cnn_from_numpy_weights():
    rng = np.random.default_rng(0)
    w1 = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    b1 = rng.standard_normal(4).astype(np.float32)
    w2 = rng.standard_normal((64, 10)).astype(np.float32)
    b2 = rng.standard_normal((1, 10)).astype(np.float32)
    x = rng.standard_normal((1, 3, 8, 8)).astype(np.float32)

    builder = trt.Builder(trt.Logger(trt.Logger.ERROR))
    net = builder.create_network(1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH))
    data = net.add_input("data", trt.float32, (1, 3, 8, 8))
    conv = net.add_convolution_nd(data, 4, (3, 3), w1, trt.Weights(b1))
    conv.stride_nd = (1, 1)
    conv.padding_nd = (1, 1)
    conv.name = "conv1"
    relu = net.add_activation(conv.get_output(0), trt.ActivationType.RELU)
    pool = net.add_pooling_nd(relu.get_output(0), trt.PoolingType.MAX, (2, 2))
    pool.stride_nd = (2, 2)
    flat = net.add_shuffle(pool.get_output(0))
    flat.reshape_dims = (0, -1)
    fc_w = net.add_constant((64, 10), w2)
    fc = net.add_matrix_multiply(flat.get_output(0), trt.MatrixOperation.NONE,
                                 fc_w.get_output(0), trt.MatrixOperation.NONE)
    fc_b = net.add_constant((1, 10), b2)
    logits = net.add_elementwise(fc.get_output(0), fc_b.get_output(0), trt.ElementWiseOperation.SUM)
    probs = net.add_softmax(logits.get_output(0))
    probs.axes = 1 << 1
    probs.get_output(0).name = "probs"
    net.mark_output(probs.get_output(0))

    assert net.num_layers == 9 and net.num_inputs == 1 and net.num_outputs == 1
    assert net.get_output(0).name == "probs" and net.get_output(0).is_network_output
    assert isinstance(net.get_layer(0), trt.IConvolutionLayer) and net.get_layer(0) == conv
    assert conv.num_output_maps == 4 and conv.kernel_size_nd == (3, 3) and conv.padding_nd == (1, 1)
    assert relu.type == trt.ActivationType.RELU and pool.type == trt.PoolingType.MAX
    assert fc.op0 == trt.MatrixOperation.NONE and logits.op == trt.ElementWiseOperation.SUM
    assert flat.reshape_dims == (0, -1) and probs.axes == 2 and fc_w.shape == (64, 10)
    assert conv.get_output(0).shape == (1, 4, 8, 8) and flat.get_output(0).shape == (1, 64)
    assert conv.type == trt.LayerType.CONVOLUTION and conv.op_type == "Conv"

    out = run(builder, net, {"data": x})["probs"]
    h = np.maximum(conv2d(x, w1, b1, 1, 1), 0)
    h = h.reshape(1, 4, 4, 2, 4, 2).max(axis=(3, 5)).reshape(1, 64)
    assert_close(out, softmax(h @ w2 + b2, 1))


def test_concat_reduce_unary_transpose_matmul():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((2, 3, 4)).astype(np.float32)
    b = rng.standard_normal((2, 2, 4)).astype(np.float32)
    m = rng.standard_normal((5, 4)).astype(np.float32)

    builder = trt.Builder(trt.Logger(trt.Logger.ERROR))
    net = builder.create_network()
    ta = net.add_input("a", trt.float32, (2, 3, 4))
    tb = net.add_input("b", trt.float32, (2, 2, 4))
    cat = net.add_concatenation([ta, tb])
    cat.axis = 1
    mean = net.add_reduce(cat.get_output(0), trt.ReduceOperation.AVG, 1 << 2, True)
    ex = net.add_unary(mean.get_output(0), trt.UnaryOperation.EXP)
    tm = net.add_constant((5, 4), m)
    mm = net.add_matrix_multiply(cat.get_output(0), trt.MatrixOperation.NONE,
                                 tm.get_output(0), trt.MatrixOperation.TRANSPOSE)
    scaled = net.add_elementwise(mm.get_output(0), ex.get_output(0), trt.ElementWiseOperation.PROD)
    scaled.get_output(0).name = "out"
    net.mark_output(scaled.get_output(0))
    assert cat.axis == 1 and mean.keep_dims and mean.axes == 4 and ex.op == trt.UnaryOperation.EXP
    assert mm.op1 == trt.MatrixOperation.TRANSPOSE

    out = run(builder, net, {"a": a, "b": b})["out"]
    c = np.concatenate([a, b], axis=1)
    assert_close(out, (c @ m.T) * np.exp(c.mean(axis=2, keepdims=True)))


def test_layer_api_errors_raise_with_the_logged_message():
    builder = trt.Builder(trt.Logger(trt.Logger.INTERNAL_ERROR))  # quiet: the message goes into the exception
    net = builder.create_network()
    x = net.add_input("x", trt.float32, (1, 3, 8, 8))
    with pytest.raises(trt.KilnError, match="add_convolution_nd: .*kernel weights have 10 values"):
        net.add_convolution_nd(x, 4, (3, 3), np.zeros(10, np.float32))
    with pytest.raises(TypeError, match=r"float64.*astype\(np.float32\)"):
        net.add_convolution_nd(x, 4, (3, 3), np.zeros((4, 3, 3, 3)))
    with pytest.raises(trt.KilnError, match="add_input: .*already exists"):
        net.add_input("x", trt.float32, (1,))
    soft = net.add_softmax(x)
    with pytest.raises(trt.KilnError, match="exactly one bit"):
        soft.axes = 0b11
    y = net.add_input("y", trt.float32, (1, 3, 8, 8))
    with pytest.raises(trt.KilnError, match="already exists"):
        y.name = "x"
    with pytest.raises(TypeError, match="expected kiln.Weights or a numpy array"):
        net.add_constant((2,), "weights")
    with pytest.raises(IndexError):
        net.get_layer(100)


def test_weights_objects():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    w = trt.Weights(a)
    assert w.dtype == trt.float32 and w.size == 6 and w.nbytes == 24 and w.numpy() is not None
    assert trt.Weights().size == 0 and trt.Weights(trt.int32).dtype == trt.int32
    assert trt.Weights(np.arange(3, dtype=np.int64)).dtype == trt.int64
    with pytest.raises(TypeError):
        trt.Weights(np.zeros(3, np.float64))


def test_layer_precision_constraints():
    builder = trt.Builder(trt.Logger(trt.Logger.ERROR))
    net = builder.create_network()
    x = net.add_input("x", trt.float32, (2, 3))
    relu = net.add_activation(x, trt.ActivationType.RELU)
    assert not relu.precision_is_set and relu.precision == trt.float32
    relu.precision = trt.float16
    assert relu.precision_is_set and relu.precision == trt.float16
    relu.reset_precision()
    assert not relu.precision_is_set
    assert not relu.output_type_is_set(0) and relu.get_output_type(0) == trt.float32
    relu.set_output_type(0, trt.bfloat16)
    assert relu.output_type_is_set(0) and relu.get_output_type(0) == trt.bfloat16
    with pytest.raises(IndexError):
        relu.set_output_type(1, trt.float16)
    relu.reset_output_type(0)
    assert not relu.output_type_is_set(0)
    # The CPU has no FP16 kernel for Relu: an obeyed FP16 constraint fails the build (TensorRT's kOBEY),
    # a preferred one builds FP32 and runs.
    relu.precision = trt.float16
    net.mark_output(relu.get_output(0))
    config = builder.create_builder_config()
    config.set_flag(trt.BuilderFlag.OBEY_PRECISION_CONSTRAINTS)
    assert builder.build_serialized_network(net, config) is None  # as tensorrt: None, the reason logged
    config.clear_flag(trt.BuilderFlag.OBEY_PRECISION_CONSTRAINTS)
    config.set_flag(trt.BuilderFlag.PREFER_PRECISION_CONSTRAINTS)
    plan = builder.build_serialized_network(net, config)
    assert plan is not None
    feeds = {"x": np.array([[-1, 2, -3], [4, 0.5, -0.5]], np.float32)}
    out = run(builder, net, feeds)
    assert_close(next(iter(out.values())), np.maximum(feeds["x"], 0))
