"""kiln.IOutputAllocator subclassed in Python (tensorrt's reallocate_output /
reallocate_output_async / notify_shape) for a data-dependent output (NonZero)."""
import numpy as np
import pytest

import kiln as trt
from kiln_onnx_util import build_engine, model_bytes

pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402


def nonzero_engine(logger):
    model = model_bytes(
        [helper.make_node("NonZero", ["x"], ["y"])],
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 5])],
        [helper.make_tensor_value_info("y", TensorProto.INT64, None)])
    engine, _ = build_engine(model, logger)
    assert engine is not None
    return engine


class ArrayAllocator(trt.IOutputAllocator):
    """Returns a numpy array (Kiln) or its integer address (tensorrt) from reallocate_output."""

    def __init__(self, as_address=False):
        trt.IOutputAllocator.__init__(self)
        self.as_address = as_address
        self.buffers, self.shapes, self.calls = {}, {}, []

    def reallocate_output(self, tensor_name, memory, size, alignment):
        self.calls.append((tensor_name, size, alignment))
        buf = self.buffers.get(tensor_name)
        if buf is None or buf.nbytes < size:
            buf = self.buffers[tensor_name] = np.empty(max(size, 1), np.uint8)
        return buf.ctypes.data if self.as_address else buf

    def notify_shape(self, tensor_name, shape):
        self.shapes[tensor_name] = tuple(shape)

    def result(self, name, dtype):
        shape = self.shapes[name]
        n = int(np.prod(shape))
        return self.buffers[name][: n * np.dtype(dtype).itemsize].view(dtype).reshape(shape)


@pytest.mark.parametrize("as_address", [False, True])
def test_nonzero_output_comes_from_the_python_allocator(as_address):
    engine = nonzero_engine(trt.Logger(trt.Logger.ERROR))
    assert tuple(engine.get_tensor_shape("y"))[1] == -1
    ctx = engine.create_execution_context()
    alloc = ArrayAllocator(as_address)
    assert ctx.set_output_allocator("y", alloc)
    assert ctx.get_output_allocator("y") is alloc
    rng = np.random.default_rng(3)
    for density in (0.5, 0.0, 1.0):
        x = (rng.random((3, 5)) < density).astype(np.float32) * rng.standard_normal((3, 5)).astype(np.float32)
        ctx.set_tensor_address("x", x)
        assert ctx.execute_async_v3(0)
        expect = np.array(np.nonzero(x), np.int64)
        assert alloc.shapes["y"] == expect.shape
        np.testing.assert_array_equal(alloc.result("y", np.int64), expect)
    name, size, alignment = alloc.calls[0]
    assert name == "y" and size >= 2 * 15 * 8 and alignment > 0


def test_async_variant_is_called_when_overridden():
    engine = nonzero_engine(trt.Logger(trt.Logger.ERROR))

    class AsyncAllocator(ArrayAllocator):
        def reallocate_output_async(self, tensor_name, memory, size, alignment, stream):
            self.stream = stream
            return self.reallocate_output(tensor_name, memory, size, alignment)

    alloc = AsyncAllocator()
    ctx = engine.create_execution_context()
    ctx.set_output_allocator("y", alloc)
    x = np.eye(3, 5, dtype=np.float32)
    ctx.set_tensor_address("x", x)
    assert ctx.execute_async_v3(1234)
    assert alloc.stream == 1234
    np.testing.assert_array_equal(alloc.result("y", np.int64), np.array(np.nonzero(x)))


def test_missing_or_failing_allocators_fail_the_run_with_the_reason(recorder):
    engine = nonzero_engine(recorder)
    ctx = engine.create_execution_context()
    ctx.set_tensor_address("x", np.ones((3, 5), np.float32))
    assert ctx.execute_async_v3(0) is False
    assert any("IOutputAllocator" in m for m in recorder.errors()), recorder.errors()

    class Raising(ArrayAllocator):
        def reallocate_output(self, tensor_name, memory, size, alignment):
            raise MemoryError("pool exhausted")

    recorder.messages.clear()
    ctx.set_output_allocator("y", Raising())
    assert ctx.execute_async_v3(0) is False
    assert any("pool exhausted" in m for m in recorder.errors()), recorder.errors()

    class TooSmall(ArrayAllocator):
        def reallocate_output(self, tensor_name, memory, size, alignment):
            return np.empty(1, np.uint8)

    recorder.messages.clear()
    ctx.set_output_allocator("y", TooSmall())
    assert ctx.execute_async_v3(0) is False
    assert any("bytes" in m and "needed" in m for m in recorder.errors()), recorder.errors()

    with pytest.raises(TypeError, match="IOutputAllocator"):
        ctx.set_output_allocator("y", object())
    with pytest.raises(trt.KilnError, match="is an input"):
        ctx.set_output_allocator("x", ArrayAllocator())


def test_convenience_infer_returns_data_dependent_outputs():
    model = model_bytes(
        [helper.make_node("NonZero", ["x"], ["idx"]),
         helper.make_node("Unique", ["x"], ["values", "indices", "inverse", "counts"], sorted=1)],
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4])],
        [helper.make_tensor_value_info("idx", TensorProto.INT64, None),
         helper.make_tensor_value_info("values", TensorProto.FLOAT, None),
         helper.make_tensor_value_info("indices", TensorProto.INT64, None),
         helper.make_tensor_value_info("inverse", TensorProto.INT64, None),
         helper.make_tensor_value_info("counts", TensorProto.INT64, None)])
    engine = trt.build(model, progress=False)
    first = None
    for x in (np.array([[0, 2, 0, 3], [3, 0, 2, 2]], np.float32), np.zeros((2, 4), np.float32)):
        out = engine.infer({"x": x})
        assert list(out) == ["idx", "values", "indices", "inverse", "counts"]
        np.testing.assert_array_equal(out["idx"], np.array(np.nonzero(x)))
        values, indices, inverse, counts = np.unique(x.ravel(), return_index=True, return_inverse=True,
                                                     return_counts=True)
        np.testing.assert_array_equal(out["values"], values)
        np.testing.assert_array_equal(out["indices"], indices)
        np.testing.assert_array_equal(out["inverse"], inverse.ravel())
        np.testing.assert_array_equal(out["counts"], counts)
        first = first or out
    # Results are copies: the next run did not change the first one's arrays.
    np.testing.assert_array_equal(first["idx"], np.array(np.nonzero([[0, 2, 0, 3], [3, 0, 2, 2]])))
