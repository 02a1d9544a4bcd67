"""Kiln: an ONNX -> optimized plan -> run inference optimizer and runtime.

The names follow the ``tensorrt`` Python package, so that a TensorRT script runs
with ``import kiln as trt``::

    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)
    parser = trt.OnnxParser(network, logger)
    ...

Beside the faithful API there is a convenience layer: ``kiln.build(path)``
returns an :class:`Engine` whose ``infer({name: array})`` returns the outputs.
The ONNX backend (``onnx.backend.base.Backend``) is ``kiln.onnx_backend``.

Errors: where ``tensorrt`` returns None or False (``build_serialized_network``,
``deserialize_cuda_engine``, ``create_execution_context``, ``OnnxParser.parse``,
``execute_*``), Kiln does the same and logs the reason; every other failure
raises (``kiln.KilnError`` with the logged message, ``TypeError``/``ValueError``
for bad arguments). The convenience layer raises ``kiln.ParseError`` and
``kiln.BuildError``.
"""
import functools as _functools
import operator as _operator

from . import _kiln
from ._kiln import (
    ActivationType,
    Builder,
    BuilderFlag,
    DataType,
    DeviceType,
    Dims,
    Dims2,
    Dims3,
    Dims4,
    DimsHW,
    ElementWiseOperation,
    ErrorCode,
    ErrorCodeTRT,
    ExecutionContextAllocationStrategy,
    IActivationLayer,
    IBuilderConfig,
    IConcatenationLayer,
    IConstantLayer,
    IConvolutionLayer,
    ICudaEngine,
    IElementWiseLayer,
    IExecutionContext,
    IHostMemory,
    IOutputAllocator,
    IPluginCreatorV3One,
    IPluginRegistry,
    ILayer,
    ILogger,
    IMatrixMultiplyLayer,
    INetworkDefinition,
    IOptimizationProfile,
    IPoolingLayer,
    IProfiler,
    IReduceLayer,
    IShuffleLayer,
    ISoftMaxLayer,
    ITensor,
    ITimingCache,
    IUnaryLayer,
    KilnError,
    LayerType,
    Logger,
    MatrixOperation,
    MemoryPoolType,
    NetworkDefinitionCreationFlag,
    OnnxParser,
    OptProfileSelector,
    PaddingMode,
    ParserError,
    PoolingType,
    ReduceOperation,
    Runtime,
    TacticSource,
    TensorFormat,
    TensorIOMode,
    TensorLocation,
    UnaryOperation,
    Weights,
    data_type_size,
    get_infer_lib_version,
    get_plugin_registry,
    init_lib_kiln_plugins,
    init_libnvinfer_plugins,
)

__version__ = "0.1.0"

# Names the brief and older TensorRT code use.
NetworkDefinition = INetworkDefinition
BuilderConfig = IBuilderConfig


class ParseError(KilnError):
    """The ONNX parser rejected a model (raised by the convenience layer)."""


class BuildError(KilnError):
    """The builder could not build an engine (raised by the convenience layer)."""


# tensorrt's dtype aliases (trt.float32 is trt.DataType.FLOAT).
float32 = DataType.FLOAT
float16 = DataType.HALF
bfloat16 = DataType.BF16
int8 = DataType.INT8
int32 = DataType.INT32
int64 = DataType.INT64
uint8 = DataType.UINT8
fp8 = DataType.FP8
globals()["bool"] = DataType.BOOL  # trt.bool; assigned this way so the builtin stays usable here


def nptype(trt_type):
    """The numpy type of a kiln.DataType, as tensorrt.nptype."""
    import numpy as np

    mapping = {
        DataType.FLOAT: np.float32,
        DataType.HALF: np.float16,
        DataType.INT8: np.int8,
        DataType.INT32: np.int32,
        DataType.INT64: np.int64,
        DataType.BOOL: np.bool_,
        DataType.UINT8: np.uint8,
        # Kiln's wider IO types (no tensorrt equivalent).
        DataType.DOUBLE: np.float64,
        DataType.INT16: np.int16,
        DataType.UINT16: np.uint16,
        DataType.UINT32: np.uint32,
        DataType.UINT64: np.uint64,
    }
    if trt_type not in mapping:
        raise TypeError(f"Could not resolve kiln datatype {trt_type} to an equivalent numpy datatype.")
    return mapping[trt_type]


def volume(iterable):
    """Product of the dimensions (1 for a scalar), as tensorrt.volume."""
    return _functools.reduce(_operator.mul, iterable, 1)


class Profiler(IProfiler):
    """Prints each layer's time, as tensorrt.Profiler."""

    def __init__(self):
        IProfiler.__init__(self)

    def report_layer_time(self, layer_name, ms):
        print(f"{layer_name}: {ms:.3f}ms")


from .easy import Engine, build, load  # noqa: E402
