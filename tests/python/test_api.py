"""The tensorrt-shaped API: names, enums, build -> serialize -> deserialize -> run,
buffers (ints, arrays and their checks), profiler, loggers, lifetimes."""
import gc
import os

import numpy as np
import pytest

import kiln as trt
from conftest import MODELS, assert_close, ort_run

SMALL_CNN = os.path.join(MODELS, "small_cnn.onnx")


@pytest.fixture(scope="module")
def plan():
    logger = trt.Logger(trt.Logger.ERROR)
    builder = trt.Builder(logger)
    network = builder.create_network(1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH))
    parser = trt.OnnxParser(network, logger)
    assert parser.parse_from_file(SMALL_CNN)
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, 1 << 30)
    return bytes(builder.build_serialized_network(network, config))


@pytest.fixture
def engine(plan):
    return trt.Runtime(trt.Logger(trt.Logger.ERROR)).deserialize_cuda_engine(plan)


def io_arrays(engine, seed=0):
    rng = np.random.default_rng(seed)
    arrays = {}
    for i in range(engine.num_io_tensors):
        name = engine.get_tensor_name(i)
        shape = tuple(engine.get_tensor_shape(name))
        if engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT:
            arrays[name] = rng.standard_normal(shape).astype(np.float32)
        else:
            arrays[name] = np.full(shape, np.nan, np.float32)
    return arrays


def test_enums_and_aliases():
    assert trt.float32 == trt.DataType.FLOAT and trt.float16 == trt.DataType.HALF
    assert trt.nptype(trt.DataType.INT64) is np.int64 and trt.nptype(trt.bool) is np.bool_
    with pytest.raises(TypeError):
        trt.nptype(trt.DataType.BF16)
    assert trt.DataType.HALF.itemsize == 2 and trt.DataType.INT64.itemsize == 8
    assert trt.Logger.WARNING == trt.ILogger.Severity.WARNING and trt.Logger.ERROR < trt.Logger.WARNING
    assert trt.volume((2, 3, 4)) == 24 and trt.volume(()) == 1
    assert int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH) == 0
    assert trt.ElementWiseOperation.SUM.name == "SUM" and trt.MemoryPoolType.WORKSPACE == 0
    assert trt.NetworkDefinition is trt.INetworkDefinition


def test_dims_behave_like_tuples():
    d = trt.Dims((1, 3, 224, 224))
    assert len(d) == 4 and d[1] == 3 and d[-1] == 224 and tuple(d) == (1, 3, 224, 224)
    assert d == (1, 3, 224, 224) and d == [1, 3, 224, 224] and d != (1, 3)
    assert repr(d) == "(1, 3, 224, 224)"
    assert trt.Dims2(3, 3) == (3, 3) and trt.DimsHW(5, 7).w == 7 and trt.Dims4(1, 2, 3, 4)[3] == 4
    with pytest.raises(IndexError):
        d[4]
    with pytest.raises(ValueError):
        trt.Dims(tuple(range(9)))


def test_engine_metadata(engine, plan):
    names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
    assert names == ["input", "probs", "logits"]
    assert engine.get_tensor_mode("input") == trt.TensorIOMode.INPUT
    assert engine.get_tensor_mode("probs") == trt.TensorIOMode.OUTPUT
    assert engine.get_tensor_shape("input") == (2, 3, 32, 32)
    assert engine.get_tensor_dtype("logits") == trt.DataType.FLOAT
    assert engine.num_layers > 0 and engine.device_memory_size > 0
    assert engine.device_type == trt.DeviceType.CPU
    assert "tactic=" in engine.get_layer_information(0)
    assert bytes(engine.serialize()) == plan
    with pytest.raises(ValueError, match="no input or output tensor named \"nope\""):
        engine.get_tensor_shape("nope")
    with pytest.raises(IndexError):
        engine.get_tensor_name(engine.num_io_tensors)


def test_host_memory_supports_the_buffer_protocol(plan):
    logger = trt.Logger(trt.Logger.ERROR)
    mem = trt.Runtime(logger).deserialize_cuda_engine(plan).serialize()
    assert isinstance(mem, trt.IHostMemory)
    assert mem.nbytes == len(plan) == len(mem)
    assert memoryview(mem).readonly and memoryview(mem).tobytes() == plan == mem.tobytes()
    assert np.frombuffer(mem, np.uint8).size == len(plan)
    again = trt.Runtime(logger).deserialize_cuda_engine(mem)  # IHostMemory goes back in directly
    assert again.num_io_tensors == 3


def test_execute_with_integer_addresses_matches_onnxruntime(engine):
    context = engine.create_execution_context()
    arrays = io_arrays(engine)
    for name, a in arrays.items():
        assert context.set_tensor_address(name, a.ctypes.data)
        assert context.get_tensor_address(name) == a.ctypes.data
    assert context.execute_async_v3(0)
    expected = ort_run(SMALL_CNN, {"input": arrays["input"]})
    assert_close(arrays["probs"], expected["probs"])
    assert_close(arrays["logits"], expected["logits"])


def test_execute_v2_with_arrays_and_flat_buffers(engine):
    context = engine.create_execution_context()
    arrays = io_arrays(engine, seed=1)
    flat_logits = np.zeros(trt.volume(engine.get_tensor_shape("logits")), np.float32)  # as TensorRT samples do
    assert context.execute_v2([arrays["input"], arrays["probs"], flat_logits])
    expected = ort_run(SMALL_CNN, {"input": arrays["input"]})
    assert_close(arrays["probs"], expected["probs"])
    assert_close(flat_logits.reshape(expected["logits"].shape), expected["logits"])
    with pytest.raises(ValueError, match="3 IO tensors"):
        context.execute_v2([arrays["input"]])


def test_bound_arrays_are_kept_alive(engine):
    context = engine.create_execution_context()
    arrays = io_arrays(engine, seed=2)
    x = arrays.pop("input")
    expected = ort_run(SMALL_CNN, {"input": x})
    context.set_tensor_address("input", x.copy())  # the only reference is the context's
    gc.collect()
    for name, a in arrays.items():
        context.set_tensor_address(name, a)
    assert context.execute_async_v3(0)
    assert_close(arrays["logits"], expected["logits"])


def test_wrong_arrays_raise_clear_errors(engine):
    context = engine.create_execution_context()
    good = np.zeros((2, 3, 32, 32), np.float32)
    with pytest.raises(TypeError, match="\"input\" is float32, the array is float64"):
        context.set_tensor_address("input", good.astype(np.float64))
    with pytest.raises(ValueError, match=r"has shape \(2, 3, 32, 32\), the array has shape \(1, 3, 32, 32\)"):
        context.set_tensor_address("input", good[:1])
    with pytest.raises(ValueError, match="not C-contiguous"):
        context.set_tensor_address("input", np.zeros((2, 3, 32, 64), np.float32)[..., ::2])
    readonly = np.zeros((2, 10), np.float32)
    readonly.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        context.set_tensor_address("logits", readonly)
    with pytest.raises(ValueError, match="no input or output tensor named"):
        context.set_tensor_address("nope", good)
    with pytest.raises(TypeError, match="integer address or a host array"):
        context.set_tensor_address("input", "not a buffer")
    with pytest.raises(ValueError, match="non-negative"):
        context.set_tensor_address("input", -1)

    class FakeCudaArray:
        __cuda_array_interface__ = {"shape": (2, 3, 32, 32), "typestr": "<f4", "data": (0, False), "version": 3}

    with pytest.raises(TypeError, match="CUDA array.*runs on the CPU"):
        context.set_tensor_address("input", FakeCudaArray())

    class FakeGpuDlpack:
        def __dlpack_device__(self):
            return (2, 0)  # kDLCUDA

    with pytest.raises(TypeError, match="DLPack device type 2"):
        context.set_tensor_address("input", FakeGpuDlpack())


def test_context_shapes(engine):
    context = engine.create_execution_context()
    assert context.get_tensor_shape("logits") == (2, 10)
    assert context.all_input_dimensions_specified
    assert context.set_input_shape("input", (2, 3, 32, 32))
    assert context.engine is engine
    context.name = "ctx0"
    assert context.name == "ctx0"


def test_profiler_reports_every_layer(engine):
    class Collect(trt.IProfiler):
        def __init__(self):
            trt.IProfiler.__init__(self)
            self.times = {}

        def report_layer_time(self, layer_name, ms):
            self.times[layer_name] = ms

    context = engine.create_execution_context()
    context.profiler = Collect()
    for name, a in io_arrays(engine).items():
        context.set_tensor_address(name, a)
    assert context.execute_async_v3(0)
    assert len(context.profiler.times) == engine.num_layers
    assert all(ms >= 0 for ms in context.profiler.times.values())


def test_python_logger_receives_messages_from_the_build(recorder):
    builder = trt.Builder(recorder)
    network = builder.create_network()
    assert trt.OnnxParser(network, recorder).parse_from_file(SMALL_CNN)
    assert builder.build_serialized_network(network, builder.create_builder_config()) is not None
    assert any(s == trt.ILogger.INFO and msg.startswith("built ") for s, msg in recorder.messages)
    assert any(s == trt.ILogger.VERBOSE and msg.startswith("layer ") for s, msg in recorder.messages)
    assert builder.logger is recorder


def test_builder_config_flags_profiles_and_timing_cache(tmp_path):
    logger = trt.Logger(trt.Logger.ERROR)
    builder = trt.Builder(logger)
    config = builder.create_builder_config()
    assert not config.get_flag(trt.BuilderFlag.FP16)
    config.set_flag(trt.BuilderFlag.FP16)
    assert config.get_flag(trt.BuilderFlag.FP16) and config.flags & (1 << int(trt.BuilderFlag.FP16))
    config.clear_flag(trt.BuilderFlag.FP16)
    assert not config.get_flag(trt.BuilderFlag.FP16)
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, 1 << 20)
    assert config.get_memory_pool_limit(trt.MemoryPoolType.WORKSPACE) == 1 << 20
    profile = builder.create_optimization_profile()
    profile.set_shape("input", (2, 3, 32, 32), (2, 3, 32, 32), (2, 3, 32, 32))
    assert profile.get_shape("input") == [(2, 3, 32, 32)] * 3 and profile.get_shape("other") == []
    assert config.add_optimization_profile(profile) == 0 and config.num_optimization_profiles == 1

    cache = config.create_timing_cache(b"")
    assert config.set_timing_cache(cache, False) and config.get_timing_cache() is cache
    network = builder.create_network()
    assert trt.OnnxParser(network, logger).parse_from_file(SMALL_CNN)
    assert builder.build_serialized_network(network, config) is not None
    blob = bytes(cache.serialize())
    assert len(blob) > 2
    reread = config.create_timing_cache(blob)
    assert bytes(reread.serialize()) == blob


def test_leaving_with_frees_and_later_calls_raise(plan):
    runtime = trt.Runtime(trt.Logger(trt.Logger.ERROR))
    with runtime.deserialize_cuda_engine(plan) as engine:
        context = engine.create_execution_context()
    with pytest.raises(trt.KilnError, match="ICudaEngine has been freed"):
        engine.num_io_tensors
    with pytest.raises(trt.KilnError, match="freed"):
        engine.create_execution_context()
    arrays = io_arrays(engine_like(plan))  # shapes from a live engine
    for name, a in arrays.items():
        context.set_tensor_address(name, a)
    assert context.execute_async_v3(0)  # the context keeps its engine alive
    with context:
        pass
    with pytest.raises(trt.KilnError, match="IExecutionContext has been freed"):
        context.execute_async_v3(0)

    builder = trt.Builder(trt.Logger(trt.Logger.ERROR))
    with builder.create_network() as network:
        x = network.add_input("x", trt.float32, (1, 4))
    with pytest.raises(trt.KilnError, match="INetworkDefinition has been freed"):
        network.num_layers
    assert x.name == "x"  # tensors keep their network alive


def engine_like(plan):
    return trt.Runtime(trt.Logger(trt.Logger.ERROR)).deserialize_cuda_engine(plan)


def test_objects_must_match_their_kind():
    with pytest.raises(TypeError, match="expected a kiln.ILogger"):
        trt.Builder("not a logger")
    builder = trt.Builder(trt.Logger())
    a = builder.create_network()
    b = builder.create_network()
    x = a.add_input("x", trt.float32, (1, 4))
    with pytest.raises(ValueError, match="belongs to another network"):
        b.mark_output(x)
    with pytest.raises(ValueError, match="belongs to another network"):
        b.add_activation(x, trt.ActivationType.RELU)
