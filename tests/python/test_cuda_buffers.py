"""CUDA engines from Python: device buffers as integer addresses (tensor.data_ptr(), as
tensorrt's samples pass them), PyTorch CUDA tensors through DLPack, objects that only have
__cuda_array_interface__, execute_async_v3 on a torch stream, and Engine.infer with CUDA
tensors; each compared with the CPU engine. Skipped without PyTorch or a GPU."""
import os

import numpy as np
import pytest

import kiln

torch = pytest.importorskip("torch")
if not torch.cuda.is_available():
    pytest.skip("no CUDA device (torch.cuda.is_available() is False)", allow_module_level=True)

MODEL = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "models", "small_cnn.onnx")


@pytest.fixture(scope="module")
def engines():
    return kiln.build(MODEL, device="cpu"), kiln.build(MODEL, device="gpu")


def feeds_for(engine, seed=0):
    rng = np.random.default_rng(seed)
    return {n: rng.standard_normal(shape).astype(dtype) for n, (shape, dtype) in engine.inputs.items()}


class CaiOnly:
    """A device array known only by __cuda_array_interface__ (as Numba's or a custom allocator's)."""

    def __init__(self, tensor):
        self._t = tensor
        self.__cuda_array_interface__ = tensor.__cuda_array_interface__


def test_engine_infer_with_torch_cuda_tensors_matches_the_cpu_engine(engines):
    cpu, gpu = engines
    assert gpu.engine.device_type == kiln.DeviceType.GPU
    feeds = feeds_for(cpu)
    want = cpu.infer(feeds)
    got = gpu.infer({n: torch.from_numpy(a).cuda() for n, a in feeds.items()})
    torch.cuda.synchronize()
    for name, w in want.items():
        assert got[name].is_cuda
        np.testing.assert_allclose(got[name].cpu().numpy(), w, rtol=1e-4, atol=1e-4, err_msg=name)


@pytest.mark.parametrize("how", ["data_ptr", "tensor", "cuda_array_interface"])
def test_context_takes_integer_addresses_and_device_arrays(engines, how):
    cpu, gpu = engines
    feeds = feeds_for(cpu, seed=1)
    want = cpu.infer(feeds)
    ctx = gpu.engine.create_execution_context()
    keep = {}
    for name, a in feeds.items():
        keep[name] = torch.from_numpy(a).cuda()
    for name, (shape, dtype) in gpu.outputs.items():
        keep[name] = torch.empty(shape, dtype=torch.float32, device="cuda")
    for name, t in keep.items():
        memory = {"data_ptr": t.data_ptr(), "tensor": t, "cuda_array_interface": CaiOnly(t)}[how]
        assert ctx.set_tensor_address(name, memory)
    stream = torch.cuda.Stream()
    torch.cuda.current_stream().synchronize()  # the uploads above ran on the current stream
    assert ctx.execute_async_v3(stream.cuda_stream)
    stream.synchronize()
    for name, w in want.items():
        np.testing.assert_allclose(keep[name].cpu().numpy(), w, rtol=1e-4, atol=1e-4, err_msg=name)


def test_bad_device_arrays_are_clear_errors(engines):
    _, gpu = engines
    ctx = gpu.engine.create_execution_context()
    name, (shape, _) = next(iter(gpu.inputs.items()))
    with pytest.raises(TypeError, match="FLOAT|float32"):
        ctx.set_tensor_address(name, torch.zeros(shape, dtype=torch.float64, device="cuda"))
    with pytest.raises(ValueError, match="shape"):
        ctx.set_tensor_address(name, torch.zeros(tuple(shape[:-1]) + (shape[-1] + 1,), device="cuda"))
    transposed = torch.zeros(shape, device="cuda").transpose(-1, -2)  # same shape (square), not contiguous
    with pytest.raises(ValueError, match="not C-contiguous"):
        ctx.set_tensor_address(name, transposed)
    with pytest.raises(ValueError, match="not C-contiguous"):
        ctx.set_tensor_address(name, CaiOnly(transposed))
    with pytest.raises(TypeError, match="runs on the GPU"):
        ctx.set_tensor_address(name, np.zeros(shape, np.float32))
    with pytest.raises(TypeError, match="runs on the GPU"):
        ctx.set_tensor_address(name, torch.zeros(shape))  # a CPU tensor
    with pytest.raises(TypeError, match="runs on the GPU"):
        gpu.infer({n: np.zeros(s, d) for n, (s, d) in gpu.inputs.items()})


def test_cpu_engine_refuses_cuda_tensors(engines):
    cpu, _ = engines
    ctx = cpu.engine.create_execution_context()
    name, (shape, _) = next(iter(cpu.inputs.items()))
    with pytest.raises(TypeError, match="runs on the CPU"):
        ctx.set_tensor_address(name, torch.zeros(shape, device="cuda"))
