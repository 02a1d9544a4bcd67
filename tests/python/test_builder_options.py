"""IBuilderConfig: tactic sources (1 << int(TacticSource.X)), default device type,
optimization level, plugins to serialize."""
import os

import numpy as np
import pytest

import kiln as trt
from conftest import MODELS, assert_close

SMALL_CNN = os.path.join(MODELS, "small_cnn.onnx")


def make_config(logger=None):
    builder = trt.Builder(logger or trt.Logger(trt.Logger.ERROR))
    network = builder.create_network(0)
    parser = trt.OnnxParser(network, builder.logger)
    assert parser.parse_from_file(SMALL_CNN)
    return builder, network, builder.create_builder_config()


def run(plan, seed=0):
    engine = trt.Runtime(trt.Logger(trt.Logger.ERROR)).deserialize_cuda_engine(plan)
    ctx = engine.create_execution_context()
    rng = np.random.default_rng(seed)
    outs = {}
    for i in range(engine.num_io_tensors):
        name = engine.get_tensor_name(i)
        shape = tuple(engine.get_tensor_shape(name))
        if engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT:
            a = rng.standard_normal(shape).astype(np.float32)
        else:
            a = outs[name] = np.zeros(shape, np.float32)
        ctx.set_tensor_address(name, a)
    assert ctx.execute_async_v3(0)
    return outs


def test_tactic_source_enum_and_mask():
    assert int(trt.TacticSource.CUBLAS) == 0 and int(trt.TacticSource.CUDNN) == 2
    assert int(trt.TacticSource.ONEDNN) == 16
    _, _, config = make_config()
    default = config.get_tactic_sources()
    assert isinstance(default, int)
    mask = 1 << int(trt.TacticSource.CUBLAS) | 1 << int(trt.TacticSource.CUDNN)
    assert config.set_tactic_sources(mask) is True
    assert config.get_tactic_sources() == mask
    # An unknown bit is refused and changes nothing (tensorrt returns False).
    assert config.set_tactic_sources(mask | 1 << 30) is False
    assert config.get_tactic_sources() == mask
    with pytest.raises(TypeError):
        config.set_tactic_sources(-1)


def test_builds_without_onednn_give_the_same_outputs():
    results = []
    for onednn in (True, False):
        builder, network, config = make_config()
        sources = config.get_tactic_sources()
        bit = 1 << int(trt.TacticSource.ONEDNN)
        assert config.set_tactic_sources(sources | bit if onednn else sources & ~bit)
        config.builder_optimization_level = 0
        assert config.builder_optimization_level == 0
        plan = builder.build_serialized_network(network, config)
        assert plan is not None
        results.append(run(plan))
    for name in results[0]:
        assert_close(results[1][name], results[0][name])


def test_optimization_level_is_clamped_and_plugins_list_round_trips():
    _, _, config = make_config()
    assert config.builder_optimization_level == 3
    config.builder_optimization_level = 9
    assert config.builder_optimization_level == 5
    config.plugins_to_serialize = ["/tmp/a.so", "/tmp/b.so"]
    assert config.plugins_to_serialize == ["/tmp/a.so", "/tmp/b.so"]
    config.plugins_to_serialize = []
    assert config.plugins_to_serialize == []


def test_runtime_host_code_switch():
    runtime = trt.Runtime(trt.Logger(trt.Logger.ERROR))
    assert runtime.engine_host_code_allowed is False
    runtime.engine_host_code_allowed = True
    assert runtime.engine_host_code_allowed is True


def test_default_device_type_round_trips_and_engines_report_theirs():
    builder, network, config = make_config()
    assert config.default_device_type == trt.DeviceType.CPU
    plan = builder.build_serialized_network(network, config)
    engine = trt.Runtime(trt.Logger(trt.Logger.ERROR)).deserialize_cuda_engine(plan)
    assert engine.device_type == trt.DeviceType.CPU
    config.default_device_type = trt.DeviceType.GPU
    assert config.default_device_type == trt.DeviceType.GPU


def gpu_present():
    return os.path.exists("/dev/nvidiactl") or os.path.exists("/dev/nvidia0")


@pytest.mark.skipif(gpu_present(), reason="a GPU is present: a GPU build would succeed")
def test_gpu_build_without_a_gpu_says_a_gpu_is_needed(recorder):
    builder = trt.Builder(recorder)
    network = builder.create_network(0)
    assert trt.OnnxParser(network, recorder).parse_from_file(SMALL_CNN)
    config = builder.create_builder_config()
    config.default_device_type = trt.DeviceType.GPU
    # tensorrt's build_serialized_network returns None and logs the reason...
    assert builder.build_serialized_network(network, config) is None
    assert any("needs a GPU" in m for m in recorder.errors()), recorder.errors()
    # ...and the convenience layer raises with it.
    with pytest.raises(trt.BuildError, match="needs a GPU"):
        trt.build(SMALL_CNN, device="gpu", progress=False)
    with pytest.raises(ValueError, match="device must be"):
        trt.build(SMALL_CNN, device="tpu", progress=False)


def test_cpu_device_in_the_convenience_layer():
    engine = trt.build(SMALL_CNN, device=trt.DeviceType.CPU, progress=False)
    assert engine.engine.device_type == trt.DeviceType.CPU
