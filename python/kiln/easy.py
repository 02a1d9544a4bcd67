"""The convenience layer: ``kiln.build(model) -> Engine`` and ``Engine.infer``.

Built on the tensorrt-style API of this package; unlike it, every failure
raises (``kiln.ParseError``, ``kiln.BuildError``, ``kiln.KilnError``) with the
messages the library logged. A long build shows a progress bar with per-layer
timing when stderr is a terminal, and stays quiet (warnings and errors only)
when it is piped.
"""
import os
import re
import sys
import threading
import time

import numpy as np

from . import _kiln as _k


class _BuildLogger(_k.ILogger):
    """Collects errors for exceptions; prints warnings; draws the progress bar."""

    _LAYER = re.compile(r'^layer (.*) -> (\S+)$')
    _TACTIC = re.compile(r'^\s+tactic \S+ for .*: ([0-9.eE+-]+) ms$')

    def __init__(self, stream=None, progress=None, verbose=False):
        _k.ILogger.__init__(self)
        self.stream = stream if stream is not None else sys.stderr
        is_tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.progress = is_tty if progress is None else progress
        self.verbose = verbose
        self.errors = []
        self.total = 0
        self.done = 0
        self.layer_ms = 0.0
        self._bar_shown = False
        self._lock = threading.Lock()

    def log(self, severity, msg):
        with self._lock:
            if severity <= _k.ILogger.ERROR:
                self.errors.append(msg)
            if self.progress:
                m = self._TACTIC.match(msg)
                if m:
                    self.layer_ms += float(m.group(1))
                    return
                m = self._LAYER.match(msg)
                if m:
                    self.done += 1
                    self._draw(m.group(1), m.group(2))
                    self.layer_ms = 0.0
                    return
            if severity <= _k.ILogger.WARNING or self.verbose:
                self._clear()
                letter = "FEWIV"[int(severity)]
                print(f"[kiln] [{letter}] {msg}", file=self.stream, flush=True)

    def _draw(self, layer, tactic):
        total = max(self.total, self.done)
        width = 24
        filled = int(width * self.done / total) if total else width
        bar = "#" * filled + "-" * (width - filled)
        timing = f" ({self.layer_ms:.2f} ms timed)" if self.layer_ms else ""
        line = f"\rbuilding [{bar}] {self.done}/{total} {layer} -> {tactic}{timing}"
        self.stream.write(line[:160].ljust(100))
        self.stream.flush()
        self._bar_shown = True

    def _clear(self):
        if self._bar_shown:
            self.stream.write("\r" + " " * 160 + "\r")
            self._bar_shown = False

    def finish(self, seconds):
        with self._lock:
            if self._bar_shown:
                self._clear()
                print(f"built {self.done} layers in {seconds:.1f} s", file=self.stream, flush=True)

    def take_errors(self):
        errors, self.errors = self.errors, []
        return "\n".join(errors) if errors else "(no message was logged)"


def _model_bytes(model):
    """(serialized ModelProto, path or None) from a path, bytes or onnx.ModelProto."""
    if isinstance(model, (str, os.PathLike)):
        path = os.fspath(model)
        with open(path, "rb") as f:
            return f.read(), path
    if isinstance(model, (bytes, bytearray, memoryview)):
        return bytes(model), None
    if hasattr(model, "SerializeToString"):
        return model.SerializeToString(), None
    raise TypeError(f"kiln.build: expected a path, bytes or an onnx.ModelProto, got {type(model).__name__}")


def _device_type(device):
    if isinstance(device, _k.DeviceType):
        return device
    names = {"cpu": _k.DeviceType.CPU, "gpu": _k.DeviceType.GPU, "cuda": _k.DeviceType.GPU}
    if not isinstance(device, str) or device.lower() not in names:
        raise ValueError(f"kiln.build: device must be \"cpu\", \"gpu\" or a kiln.DeviceType, got {device!r}")
    return names[device.lower()]


def build(model, shapes=None, fp16=False, workspace=None, *, timing_cache=None, threads=0, progress=None,
          logger=None, device=None):
    """Parses an ONNX model and builds an engine for it.

    model: path to a .onnx file, its bytes, or an onnx.ModelProto.
    shapes: {input name: shape} for inputs with dynamic dimensions, or
        {input name: (min, opt, max)} for a range where the engine supports one.
    fp16: request FP16 (the CPU backend builds FP32 for now and says so).
    workspace: workspace memory limit in bytes.
    timing_cache: path of a timing cache file, read if present and written back.
    progress: show the build progress bar (default: when stderr is a terminal).
    logger: a kiln.ILogger to receive every message instead of the default.
    device: "cpu" (default) or "gpu" (or a kiln.DeviceType): where the engine runs;
        a GPU build needs a GPU on this machine and raises BuildError without one.
    """
    data, path = _model_bytes(model)
    log = _BuildLogger(progress=progress)
    sink = logger if logger is not None else log
    if logger is not None:
        log.progress = False
    builder = _k.Builder(sink)
    network = builder.create_network(0)
    parser = _k.OnnxParser(network, sink)
    if not parser.parse(data, path):
        from . import ParseError

        errors = "\n".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise ParseError(f"kiln.build: the ONNX parser rejected {path or 'the model'}:\n{errors}")

    config = builder.create_builder_config()
    config.num_threads = threads
    if device is not None:
        config.default_device_type = _device_type(device)
    if workspace is not None:
        config.set_memory_pool_limit(_k.MemoryPoolType.WORKSPACE, int(workspace))
    if fp16:
        config.set_flag(_k.BuilderFlag.FP16)
    shapes = dict(shapes or {})
    known = {network.get_input(i).name: network.get_input(i) for i in range(network.num_inputs)}
    for name in shapes:
        if name not in known:
            raise ValueError(f"kiln.build: shapes names \"{name}\", which is not an input (inputs: {', '.join(known)})")
    for name, tensor in known.items():
        if name not in shapes and any(d < 0 for d in tensor.shape):
            raise ValueError(f"kiln.build: input \"{name}\" has dynamic shape {tuple(tensor.shape)}; "
                             f"give its shape with shapes={{\"{name}\": (...)}}")
    if shapes:
        profile = builder.create_optimization_profile()
        for name, shape in shapes.items():
            if len(shape) == 3 and all(isinstance(s, (tuple, list)) for s in shape):
                lo, opt, hi = (tuple(int(d) for d in s) for s in shape)  # a (min, opt, max) range
            else:
                lo = opt = hi = tuple(int(d) for d in shape)
            profile.set_shape(name, lo, opt, hi)
        config.add_optimization_profile(profile)
    cache = None
    if timing_cache is not None:
        blob = b""
        if os.path.exists(timing_cache):
            with open(timing_cache, "rb") as f:
                blob = f.read()
        cache = config.create_timing_cache(blob)
        config.set_timing_cache(cache, False)

    log.total = network.num_layers
    start = time.monotonic()
    plan = builder.build_serialized_network(network, config)
    log.finish(time.monotonic() - start)
    if plan is None:
        from . import BuildError

        raise BuildError(f"kiln.build: building {path or 'the model'} failed:\n{log.take_errors()}")
    if cache is not None:
        with open(timing_cache, "wb") as f:
            f.write(cache.serialize())
    return load(plan, logger=sink)


def load(plan, *, logger=None):
    """An Engine from a serialized plan (a path, bytes or kiln.IHostMemory)."""
    if isinstance(plan, (str, os.PathLike)):
        with open(plan, "rb") as f:
            plan = f.read()
    log = logger if logger is not None else _BuildLogger(progress=False)
    runtime = _k.Runtime(log)
    engine = runtime.deserialize_cuda_engine(plan)
    if engine is None:
        errors = log.take_errors() if isinstance(log, _BuildLogger) else "(see the logger)"
        raise _k.KilnError(f"kiln.load: the plan could not be loaded:\n{errors}")
    return Engine(engine, plan, log)


class _ArrayAllocator(_k.IOutputAllocator):
    """Host buffers for data-dependent outputs; take() copies the result out."""

    def __init__(self):
        _k.IOutputAllocator.__init__(self)
        self._buffers, self._shapes = {}, {}

    def reallocate_output(self, tensor_name, memory, size, alignment):
        buf = self._buffers.get(tensor_name)
        if buf is None or buf.nbytes < size:
            buf = self._buffers[tensor_name] = np.empty(max(int(size), 1), np.uint8)
        return buf

    def notify_shape(self, tensor_name, shape):
        self._shapes[tensor_name] = tuple(shape)

    def take(self, name, dtype):
        shape = self._shapes.pop(name)
        count = int(np.prod(shape, dtype=np.int64))
        return self._buffers[name][: count * dtype.itemsize].view(dtype).reshape(shape).copy()


def _device_library(feeds):
    """(empty(shape, numpy dtype) -> device array, stream handle) of the library the inputs
    come from: PyTorch (CUDA tensors) or CuPy. Anything else is a TypeError."""
    torch, cupy = sys.modules.get("torch"), sys.modules.get("cupy")
    values = list(feeds.values())
    if torch is not None and values and all(isinstance(v, torch.Tensor) for v in values):
        off = [n for n, v in feeds.items() if not v.is_cuda]
        if off:
            raise TypeError(f"Engine.infer: this engine runs on the GPU; inputs {off} are CPU tensors "
                            "(move them with tensor.cuda())")
        device = values[0].device
        types = {np.dtype(np.float32): torch.float32, np.dtype(np.float16): torch.float16,
                 np.dtype(np.int32): torch.int32, np.dtype(np.int64): torch.int64, np.dtype(np.int8): torch.int8,
                 np.dtype(np.uint8): torch.uint8, np.dtype(np.bool_): torch.bool}

        def empty(shape, dtype):
            if dtype not in types:
                raise TypeError(f"Engine.infer: PyTorch has no tensor type for {dtype}")
            return torch.empty(shape, dtype=types[dtype], device=device)

        return empty, torch.cuda.current_stream(device).cuda_stream
    if cupy is not None and values and all(isinstance(v, cupy.ndarray) for v in values):
        return (lambda shape, dtype: cupy.empty(shape, dtype)), cupy.cuda.get_current_stream().ptr
    kinds = sorted({type(v).__module__ + "." + type(v).__name__ for v in values})
    raise TypeError("Engine.infer: this engine runs on the GPU; pass PyTorch CUDA tensors or CuPy arrays "
                    f"(outputs are made by the same library), got {', '.join(kinds)}; for other device memory "
                    "bind integer addresses or __cuda_array_interface__ objects with "
                    "engine.create_execution_context().set_tensor_address")


class Engine:
    """A built engine with a dict-in, dict-out ``infer``.

    ``engine`` is the underlying kiln.ICudaEngine; ``inputs`` and ``outputs``
    map tensor names to (shape, numpy dtype).
    """

    def __init__(self, engine, plan, logger):
        self.engine = engine
        self._plan = plan
        self._logger = logger
        self._context = None
        self._allocator = _ArrayAllocator()  # for outputs whose shape is known only after a run
        self._data_dependent = set()
        self._lock = threading.Lock()
        self.inputs, self.outputs = {}, {}
        from . import nptype

        for i in range(engine.num_io_tensors):
            name = engine.get_tensor_name(i)
            dtype = engine.get_tensor_dtype(name)
            # numpy has no bfloat16: its tensors are uint16 arrays of bit patterns.
            np_type = np.uint16 if dtype == _k.DataType.BF16 else nptype(dtype)
            info = (tuple(engine.get_tensor_shape(name)), np.dtype(np_type))
            if engine.get_tensor_mode(name) == _k.TensorIOMode.INPUT:
                self.inputs[name] = info
            else:
                self.outputs[name] = info

    @property
    def num_layers(self):
        return self.engine.num_layers

    def serialize(self):
        """The plan bytes."""
        return bytes(self._plan)

    def save(self, path):
        with open(path, "wb") as f:
            f.write(self._plan)

    def infer(self, feeds):
        """Runs once. feeds: {input name: array}; returns {output name: new array}.

        Arrays are converted to the input's dtype when numpy's same-kind casting
        allows it (float64 -> float32); shapes must match exactly.
        """
        if not isinstance(feeds, dict):
            raise TypeError("Engine.infer: expected a dict {input name: array}")
        missing = [n for n in self.inputs if n not in feeds]
        extra = [n for n in feeds if n not in self.inputs]
        if missing or extra:
            raise KeyError(f"Engine.infer: inputs are {list(self.inputs)}; missing {missing}, unknown {extra}")
        if self.engine.device_type == _k.DeviceType.GPU:
            return self._infer_on_device(feeds)
        bound = {}
        for name, (shape, dtype) in self.inputs.items():
            a = np.asarray(feeds[name])
            if a.dtype != dtype:
                if not np.can_cast(a.dtype, dtype, casting="same_kind"):
                    raise TypeError(f"Engine.infer: input \"{name}\" is {dtype}, got an array of {a.dtype}")
                a = a.astype(dtype)
            if len(a.shape) != len(shape) or any(d >= 0 and d != g for d, g in zip(shape, a.shape)):
                raise ValueError(f"Engine.infer: input \"{name}\" has shape {shape}, got {a.shape}")
            bound[name] = np.ascontiguousarray(a)
        with self._lock:
            if self._context is None:
                self._context = self.engine.create_execution_context()
                if self._context is None:
                    raise _k.KilnError(f"Engine.infer: could not create an execution context:\n{self._errors()}")
            for name, a in bound.items():
                if any(d < 0 for d in self.inputs[name][0]) and not self._context.set_input_shape(name, a.shape):
                    raise ValueError(f"Engine.infer: input \"{name}\": shape {a.shape} was refused:\n{self._errors()}")
            # Inputs first: a shape-tensor input's values decide the outputs' shapes.
            for name, a in bound.items():
                self._context.set_tensor_address(name, a)
            outputs, data_dependent = {}, []
            for name, (_, dtype) in self.outputs.items():
                shape = tuple(self._context.get_tensor_shape(name))
                # Known only after a run (NonZero, Unique, ...): unknown before the context's first
                # run; afterwards the context reports the last run's shape, hence the set.
                if name in self._data_dependent or any(d < 0 for d in shape):
                    data_dependent.append(name)
                    self._data_dependent.add(name)
                    self._context.set_output_allocator(name, self._allocator)
                else:
                    outputs[name] = np.empty(shape, dtype)
                    self._context.set_tensor_address(name, outputs[name])
            ok = self._context.execute_async_v3(0)
            for name in list(bound) + list(outputs):
                self._context.set_tensor_address(name, 0)  # drop the references to this call's arrays
            if ok:
                for name in data_dependent:
                    outputs[name] = self._allocator.take(name, self.outputs[name][1])
        if not ok:
            raise _k.KilnError(f"Engine.infer: execution failed:\n{self._errors()}")
        return {name: outputs[name] for name in self.outputs}

    def _infer_on_device(self, feeds):
        """infer for a CUDA engine: inputs are PyTorch CUDA tensors or CuPy arrays (used in place);
        outputs are new arrays of the same library on the same device, written on its current
        stream (the call returns without waiting, as tensorrt's execute_async_v3 does)."""
        empty, stream = _device_library(feeds)
        with self._lock:
            if self._context is None:
                self._context = self.engine.create_execution_context()
                if self._context is None:
                    raise _k.KilnError(f"Engine.infer: could not create an execution context:\n{self._errors()}")
            for name, a in feeds.items():
                shape = tuple(int(d) for d in a.shape)
                if any(d < 0 for d in self.inputs[name][0]) and not self._context.set_input_shape(name, shape):
                    raise ValueError(f"Engine.infer: input \"{name}\": shape {shape} was refused:\n{self._errors()}")
            for name, a in feeds.items():  # checks dtype, shape and contiguity (TypeError / ValueError)
                self._context.set_tensor_address(name, a)
            outputs = {}
            for name, (_, dtype) in self.outputs.items():
                shape = tuple(self._context.get_tensor_shape(name))
                if any(d < 0 for d in shape):
                    raise _k.KilnError(f"Engine.infer: output \"{name}\" has a data-dependent shape, which CUDA "
                                       "engines do not support yet")
                outputs[name] = empty(shape, dtype)
                self._context.set_tensor_address(name, outputs[name])
            ok = self._context.execute_async_v3(stream)
            for name in list(feeds) + list(outputs):
                self._context.set_tensor_address(name, 0)
        if not ok:
            raise _k.KilnError(f"Engine.infer: execution failed:\n{self._errors()}")
        return outputs

    def _errors(self):
        if isinstance(self._logger, _BuildLogger):
            return self._logger.take_errors()
        return "(see the logger)"

    def __repr__(self):
        ins = ", ".join(f"{n}{list(s)}" for n, (s, _) in self.inputs.items())
        outs = ", ".join(f"{n}{list(s)}" for n, (s, _) in self.outputs.items())
        return f"<kiln.Engine {self.num_layers} layers; inputs: {ins}; outputs: {outs}>"
