from collections.abc import Buffer, Iterator, Sequence
import enum
from typing import Annotated, overload

import numpy
import numpy.typing
from numpy.typing import NDArray


class KilnError(RuntimeError):
    pass

class DataType(enum.IntEnum):
    """Element types (tensorrt.DataType)"""

    FLOAT = 0

    HALF = 1

    INT8 = 2

    INT32 = 3

    BOOL = 4

    UINT8 = 5

    FP8 = 6

    BF16 = 7

    INT64 = 8

    DOUBLE = 32

    INT16 = 33

    UINT16 = 34

    UINT32 = 35

    UINT64 = 36

    FP8E5M2 = 37

    FP8E4M3FNUZ = 38

    FP8E5M2FNUZ = 39

    @property
    def itemsize(self) -> int:
        """Bytes per element."""

def data_type_size(arg: DataType, /) -> int:
    """Bytes per element of a DataType."""

class TensorIOMode(enum.IntEnum):
    NONE = 0

    INPUT = 1

    OUTPUT = 2

class TensorLocation(enum.IntEnum):
    DEVICE = 0

    HOST = 1

class TensorFormat(enum.IntEnum):
    LINEAR = 0

class ErrorCodeTRT(enum.IntEnum):
    SUCCESS = 0

    UNSPECIFIED_ERROR = 1

    INTERNAL_ERROR = 2

    INVALID_ARGUMENT = 3

    INVALID_CONFIG = 4

    FAILED_ALLOCATION = 5

    FAILED_INITIALIZATION = 6

    FAILED_EXECUTION = 7

    FAILED_COMPUTATION = 8

    INVALID_STATE = 9

    UNSUPPORTED_STATE = 10

class Dims:
    """
    Tensor dimensions (-1 = dynamic). Compares equal to a tuple of the same ints.
    """

    @overload
    def __init__(self) -> None: ...

    @overload
    def __init__(self, shape: Sequence[int]) -> None: ...

    MAX_DIMS: int = ...
    """(arg: object, /) -> int"""

    def __len__(self) -> int: ...

    def __getitem__(self, arg: int, /) -> int: ...

    def __setitem__(self, arg0: int, arg1: int, /) -> None: ...

    def __iter__(self) -> Iterator: ...

    def __eq__(self, arg: object, /) -> bool: ...

    def __ne__(self, arg: object, /) -> bool: ...

    def __hash__(self) -> int: ...

    def __repr__(self) -> str: ...

class Dims2(Dims):
    def __init__(self, arg0: int, arg1: int, /) -> None: ...

class DimsHW(Dims2):
    def __init__(self, arg0: int, arg1: int, /) -> None: ...

    @property
    def h(self) -> int: ...

    @h.setter
    def h(self, arg: int, /) -> None: ...

    @property
    def w(self) -> int: ...

    @w.setter
    def w(self, arg: int, /) -> None: ...

class Dims3(Dims):
    def __init__(self, arg0: int, arg1: int, arg2: int, /) -> None: ...

class Dims4(Dims):
    def __init__(self, arg0: int, arg1: int, arg2: int, arg3: int, /) -> None: ...

class ILogger:
    """Subclass and implement log(severity, msg) to receive Kiln's messages."""

    def __init__(self) -> None: ...

    class Severity(enum.IntEnum):
        INTERNAL_ERROR = 0

        ERROR = 1

        WARNING = 2

        INFO = 3

        VERBOSE = 4

    INTERNAL_ERROR: ILogger.Severity = Severity.INTERNAL_ERROR

    ERROR: ILogger.Severity = Severity.ERROR

    WARNING: ILogger.Severity = Severity.WARNING

    INFO: ILogger.Severity = Severity.INFO

    VERBOSE: ILogger.Severity = Severity.VERBOSE

    def log(self, severity: ILogger.Severity, msg: str) -> None: ...

class Logger(ILogger):
    """Prints messages at or above min_severity to stderr."""

    def __init__(self, min_severity: ILogger.Severity = Severity.WARNING) -> None: ...

    @property
    def min_severity(self) -> ILogger.Severity: ...

    @min_severity.setter
    def min_severity(self, arg: ILogger.Severity, /) -> None: ...

class IHostMemory:
    """
    Bytes owned by Kiln (a serialized engine or timing cache); supports the buffer protocol.
    """

    @property
    def nbytes(self) -> int: ...

    @property
    def dtype(self) -> DataType: ...

    def __len__(self) -> int: ...

    def tobytes(self) -> bytes: ...

class Weights:
    """
    Layer weights: a contiguous host array (copied when the layer is added).
    """

    @overload
    def __init__(self, type: DataType = DataType.FLOAT) -> None: ...

    @overload
    def __init__(self, a: Annotated[NDArray, dict(order='C', device='cpu', writable=False)]) -> None: ...

    @property
    def dtype(self) -> DataType: ...

    @property
    def size(self) -> int: ...

    @property
    def nbytes(self) -> int: ...

    def numpy(self) -> object:
        """The array these weights view (None when empty)."""

    def __len__(self) -> int: ...

def get_infer_lib_version() -> int: ...

class LayerType(enum.IntEnum):
    CONVOLUTION = 0

    ACTIVATION = 2

    POOLING = 3

    SCALE = 5

    SOFTMAX = 6

    DECONVOLUTION = 7

    CONCATENATION = 8

    ELEMENTWISE = 9

    PLUGIN = 10

    UNARY = 11

    PADDING = 12

    SHUFFLE = 13

    REDUCE = 14

    TOPK = 15

    GATHER = 16

    MATRIX_MULTIPLY = 17

    CONSTANT = 19

    IDENTITY = 21

    SLICE = 22

    SHAPE = 23

    RESIZE = 26

    SELECT = 35

    FILL = 36

    NORMALIZATION = 44

    CAST = 45

    ONNX_NODE = 1000

class NetworkDefinitionCreationFlag(enum.IntEnum):
    EXPLICIT_BATCH = 0

    STRONGLY_TYPED = 1

class ITensor:
    """A tensor of a network definition."""

    @property
    def name(self) -> str: ...

    @name.setter
    def name(self, arg: str, /) -> None: ...

    @property
    def shape(self) -> Dims:
        """
        Shape as inferred so far (-1 = not known at build time); settable on network inputs.
        """

    @shape.setter
    def shape(self, arg: Dims, /) -> None: ...

    @property
    def dtype(self) -> DataType: ...

    @dtype.setter
    def dtype(self, arg: DataType, /) -> None: ...

    @property
    def is_network_input(self) -> bool: ...

    @property
    def is_network_output(self) -> bool: ...

    @property
    def location(self) -> TensorLocation: ...

    def __eq__(self, arg: ITensor, /) -> bool: ...

    def __ne__(self, arg: ITensor, /) -> bool: ...

    def __hash__(self) -> int: ...

    def __repr__(self) -> str: ...

class ILayer:
    """
    A layer of a network definition (its typed class when made by the layer API).
    """

    @property
    def name(self) -> str: ...

    @name.setter
    def name(self, arg: str, /) -> None: ...

    @property
    def type(self) -> LayerType: ...

    @property
    def op_type(self) -> str:
        """Kiln: the ONNX op this layer is in Kiln's IR ("Conv", "Relu", ...)."""

    @property
    def num_inputs(self) -> int: ...

    @property
    def num_outputs(self) -> int: ...

    def get_input(self, index: int) -> ITensor | None: ...

    def get_output(self, index: int) -> ITensor: ...

    @property
    def precision(self) -> DataType:
        """
        Precision constraint (honored by CUDA builds with OBEY_/PREFER_PRECISION_CONSTRAINTS).
        """

    @precision.setter
    def precision(self, arg: DataType, /) -> None: ...

    @property
    def precision_is_set(self) -> bool: ...

    def reset_precision(self) -> None: ...

    def set_output_type(self, index: int, dtype: DataType) -> None: ...

    def get_output_type(self, index: int) -> DataType: ...

    def output_type_is_set(self, index: int) -> bool: ...

    def reset_output_type(self, index: int) -> None: ...

    def __eq__(self, arg: ILayer, /) -> bool: ...

    def __ne__(self, arg: ILayer, /) -> bool: ...

    def __hash__(self) -> int: ...

    def __repr__(self) -> str: ...

class ActivationType(enum.IntEnum):
    RELU = 0

    SIGMOID = 1

    TANH = 2

    LEAKY_RELU = 3

    ELU = 4

    SELU = 5

    SOFTSIGN = 6

    SOFTPLUS = 7

    CLIP = 8

    HARD_SIGMOID = 9

    SCALED_TANH = 10

    THRESHOLDED_RELU = 11

    GELU_ERF = 12

    GELU_TANH = 13

class PaddingMode(enum.IntEnum):
    EXPLICIT_ROUND_DOWN = 0

    EXPLICIT_ROUND_UP = 1

    SAME_UPPER = 2

    SAME_LOWER = 3

class PoolingType(enum.IntEnum):
    MAX = 0

    AVERAGE = 1

class ElementWiseOperation(enum.IntEnum):
    SUM = 0

    PROD = 1

    MAX = 2

    MIN = 3

    SUB = 4

    DIV = 5

    POW = 6

    FLOOR_DIV = 7

    AND = 8

    OR = 9

    XOR = 10

    EQUAL = 11

    GREATER = 12

    LESS = 13

class UnaryOperation(enum.IntEnum):
    EXP = 0

    LOG = 1

    SQRT = 2

    RECIP = 3

    ABS = 4

    NEG = 5

    SIN = 6

    COS = 7

    TAN = 8

    SINH = 9

    COSH = 10

    ASIN = 11

    ACOS = 12

    ATAN = 13

    ASINH = 14

    ACOSH = 15

    ATANH = 16

    CEIL = 17

    FLOOR = 18

    ERF = 19

    NOT = 20

    SIGN = 21

    ROUND = 22

class MatrixOperation(enum.IntEnum):
    NONE = 0

    TRANSPOSE = 1

    VECTOR = 2

class ReduceOperation(enum.IntEnum):
    SUM = 0

    PROD = 1

    MAX = 2

    MIN = 3

    AVG = 4

class IConvolutionLayer(ILayer):
    @property
    def num_output_maps(self) -> int: ...

    @property
    def kernel_size_nd(self) -> Dims: ...

    @property
    def stride_nd(self) -> Dims: ...

    @stride_nd.setter
    def stride_nd(self, arg: Dims, /) -> None: ...

    @property
    def padding_nd(self) -> Dims: ...

    @padding_nd.setter
    def padding_nd(self, arg: Dims, /) -> None: ...

    @property
    def pre_padding(self) -> Dims: ...

    @pre_padding.setter
    def pre_padding(self, arg: Dims, /) -> None: ...

    @property
    def post_padding(self) -> Dims: ...

    @post_padding.setter
    def post_padding(self, arg: Dims, /) -> None: ...

    @property
    def padding_mode(self) -> PaddingMode: ...

    @padding_mode.setter
    def padding_mode(self, arg: PaddingMode, /) -> None: ...

    @property
    def dilation_nd(self) -> Dims: ...

    @dilation_nd.setter
    def dilation_nd(self, arg: Dims, /) -> None: ...

    @property
    def num_groups(self) -> int: ...

    @num_groups.setter
    def num_groups(self, arg: int, /) -> None: ...

class IPoolingLayer(ILayer):
    @property
    def type(self) -> PoolingType: ...

    @property
    def window_size_nd(self) -> Dims: ...

    @property
    def stride_nd(self) -> Dims: ...

    @stride_nd.setter
    def stride_nd(self, arg: Dims, /) -> None: ...

    @property
    def padding_nd(self) -> Dims: ...

    @padding_nd.setter
    def padding_nd(self, arg: Dims, /) -> None: ...

    @property
    def pre_padding(self) -> Dims: ...

    @pre_padding.setter
    def pre_padding(self, arg: Dims, /) -> None: ...

    @property
    def post_padding(self) -> Dims: ...

    @post_padding.setter
    def post_padding(self, arg: Dims, /) -> None: ...

    @property
    def padding_mode(self) -> PaddingMode: ...

    @padding_mode.setter
    def padding_mode(self, arg: PaddingMode, /) -> None: ...

    @property
    def average_count_excludes_padding(self) -> bool: ...

    @average_count_excludes_padding.setter
    def average_count_excludes_padding(self, arg: bool, /) -> None: ...

class IActivationLayer(ILayer):
    @property
    def type(self) -> ActivationType: ...

    @type.setter
    def type(self, arg: ActivationType, /) -> None: ...

    @property
    def alpha(self) -> float: ...

    @alpha.setter
    def alpha(self, arg: float, /) -> None: ...

    @property
    def beta(self) -> float: ...

    @beta.setter
    def beta(self, arg: float, /) -> None: ...

class IElementWiseLayer(ILayer):
    @property
    def op(self) -> ElementWiseOperation: ...

class IUnaryLayer(ILayer):
    @property
    def op(self) -> UnaryOperation: ...

class IMatrixMultiplyLayer(ILayer):
    @property
    def op0(self) -> MatrixOperation: ...

    @property
    def op1(self) -> MatrixOperation: ...

class IShuffleLayer(ILayer):
    @property
    def first_transpose(self) -> list[int]: ...

    @first_transpose.setter
    def first_transpose(self, arg: Sequence[int], /) -> None: ...

    @property
    def reshape_dims(self) -> Dims: ...

    @reshape_dims.setter
    def reshape_dims(self, arg: Dims, /) -> None: ...

    @property
    def second_transpose(self) -> list[int]: ...

    @second_transpose.setter
    def second_transpose(self, arg: Sequence[int], /) -> None: ...

    @property
    def zero_is_placeholder(self) -> bool: ...

    @zero_is_placeholder.setter
    def zero_is_placeholder(self, arg: bool, /) -> None: ...

class IConcatenationLayer(ILayer):
    @property
    def axis(self) -> int: ...

    @axis.setter
    def axis(self, arg: int, /) -> None: ...

class ISoftMaxLayer(ILayer):
    @property
    def axes(self) -> int:
        """Bit mask of the reduced axis (1 << axis), as in tensorrt."""

    @axes.setter
    def axes(self, arg: int, /) -> None: ...

class IReduceLayer(ILayer):
    @property
    def op(self) -> ReduceOperation: ...

    @property
    def axes(self) -> int: ...

    @property
    def keep_dims(self) -> bool: ...

class IConstantLayer(ILayer):
    @property
    def shape(self) -> Dims: ...

class INetworkDefinition:
    """A network definition, filled by kiln.OnnxParser or layer by layer."""

    @property
    def num_layers(self) -> int: ...

    @property
    def num_inputs(self) -> int: ...

    @property
    def num_outputs(self) -> int: ...

    @property
    def has_implicit_batch_dimension(self) -> bool: ...

    @property
    def name(self) -> str: ...

    @name.setter
    def name(self, arg: str, /) -> None: ...

    def get_layer(self, index: int) -> ILayer: ...

    def get_input(self, index: int) -> ITensor: ...

    def get_output(self, index: int) -> ITensor: ...

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> ILayer: ...

    def add_input(self, name: str, dtype: DataType, shape: Dims) -> ITensor: ...

    def mark_output(self, tensor: ITensor) -> None: ...

    def unmark_output(self, tensor: ITensor) -> None: ...

    def __enter__(self) -> object: ...

    def __exit__(self, *args) -> None:
        """Frees the network (its tensors stay valid)."""

    def add_convolution_nd(self, input: ITensor, num_output_maps: int, kernel_shape: Dims, kernel: Weights | numpy.typing.ArrayLike, bias: Weights | numpy.typing.ArrayLike | None = None) -> IConvolutionLayer: ...

    def add_activation(self, input: ITensor, type: ActivationType) -> IActivationLayer: ...

    def add_pooling_nd(self, input: ITensor, type: PoolingType, window_size: Dims) -> IPoolingLayer: ...

    def add_elementwise(self, input1: ITensor, input2: ITensor, op: ElementWiseOperation) -> IElementWiseLayer: ...

    def add_unary(self, input: ITensor, op: UnaryOperation) -> IUnaryLayer: ...

    def add_matrix_multiply(self, input0: ITensor, op0: MatrixOperation, input1: ITensor, op1: MatrixOperation) -> IMatrixMultiplyLayer: ...

    def add_shuffle(self, input: ITensor) -> IShuffleLayer: ...

    def add_concatenation(self, inputs: Sequence[ITensor]) -> IConcatenationLayer: ...

    def add_softmax(self, input: ITensor) -> ISoftMaxLayer: ...

    def add_reduce(self, input: ITensor, op: ReduceOperation, axes: int, keep_dims: bool) -> IReduceLayer: ...

    def add_constant(self, shape: Dims, weights: Weights | numpy.typing.ArrayLike) -> IConstantLayer: ...

class BuilderFlag(enum.IntEnum):
    FP16 = 0

    INT8 = 1

    DEBUG = 2

    GPU_FALLBACK = 3

    REFIT = 5

    DISABLE_TIMING_CACHE = 6

    TF32 = 7

    SPARSE_WEIGHTS = 8

    SAFETY_SCOPE = 9

    OBEY_PRECISION_CONSTRAINTS = 10

    PREFER_PRECISION_CONSTRAINTS = 11

    DIRECT_IO = 12

    REJECT_EMPTY_ALGORITHMS = 13

    VERSION_COMPATIBLE = 14

    EXCLUDE_LEAN_RUNTIME = 15

    FP8 = 16

    BF16 = 17

class MemoryPoolType(enum.IntEnum):
    WORKSPACE = 0

    DLA_MANAGED_SRAM = 1

    DLA_LOCAL_DRAM = 2

    DLA_GLOBAL_DRAM = 3

    TACTIC_DRAM = 4

    TACTIC_SHARED_MEMORY = 5

class DeviceType(enum.IntEnum):
    GPU = 0

    DLA = 1

    CPU = 2

class TacticSource(enum.IntEnum):
    """
    Where tactics come from; IBuilderConfig.set_tactic_sources takes a bit mask of 1 << int(TacticSource.X). ONEDNN is Kiln's (oneDNN's CPU primitives).
    """

    CUBLAS = 0

    CUBLAS_LT = 1

    CUDNN = 2

    EDGE_MASK_CONVOLUTIONS = 3

    JIT_CONVOLUTIONS = 4

    ONEDNN = 16

class OptProfileSelector(enum.IntEnum):
    MIN = 0

    OPT = 1

    MAX = 2

class IOptimizationProfile:
    """Shapes of dynamic inputs (Kiln: min = opt = max for now)."""

    def set_shape(self, input: str, min: Dims, opt: Dims, max: Dims) -> None: ...

    def get_shape(self, input: str) -> list[Dims]:
        """[min, opt, max] of an input; [] when not set."""

    def set_shape_input(self, input: str, min: Sequence[int], opt: Sequence[int], max: Sequence[int]) -> None:
        """
        The range of a shape-tensor input's values (its values decide other tensors' shapes).
        """

    def get_shape_input(self, input: str) -> list[list[int]]:
        """[min, opt, max] values of a shape-tensor input; [] when not set."""

    def __bool__(self) -> bool: ...

class ITimingCache:
    """Tactic choices remembered across builds."""

    def serialize(self) -> IHostMemory: ...

    def combine(self, input_cache: ITimingCache, ignore_mismatch: bool) -> bool: ...

    def reset(self) -> bool: ...

class IBuilderConfig:
    """Build options: flags, memory pools, profiles, timing cache."""

    def set_flag(self, flag: BuilderFlag) -> None: ...

    def clear_flag(self, flag: BuilderFlag) -> None: ...

    def get_flag(self, flag: BuilderFlag) -> bool: ...

    @property
    def flags(self) -> int:
        """Bit mask of BuilderFlag values (1 << int(flag))."""

    @flags.setter
    def flags(self, arg: int, /) -> None: ...

    def set_memory_pool_limit(self, pool: MemoryPoolType, pool_size: int) -> None: ...

    def get_memory_pool_limit(self, pool: MemoryPoolType) -> int: ...

    @property
    def default_device_type(self) -> DeviceType: ...

    @default_device_type.setter
    def default_device_type(self, arg: DeviceType, /) -> None: ...

    def set_tactic_sources(self, tactic_sources: int) -> bool:
        """
        Bit mask of 1 << int(TacticSource.X); False (and nothing changed) for an unknown bit.
        """

    def get_tactic_sources(self) -> int: ...

    @property
    def builder_optimization_level(self) -> int:
        """0 to 5 (default 3); Kiln's level 0 times no tactic."""

    @builder_optimization_level.setter
    def builder_optimization_level(self, arg: int, /) -> None: ...

    @property
    def plugins_to_serialize(self) -> list[str]:
        """Plugin libraries (.so paths) embedded in the plan."""

    @plugins_to_serialize.setter
    def plugins_to_serialize(self, arg: Sequence[str], /) -> None: ...

    @property
    def num_threads(self) -> int:
        """
        Kiln: CPU threads used while building and by the engine by default (0 = all cores).
        """

    @num_threads.setter
    def num_threads(self, arg: int, /) -> None: ...

    def add_optimization_profile(self, profile: IOptimizationProfile) -> int: ...

    @property
    def num_optimization_profiles(self) -> int: ...

    def create_timing_cache(self, serialized_timing_cache: Buffer | None = b'') -> ITimingCache:
        """A fresh cache (b""), or one read from a serialized cache."""

    def set_timing_cache(self, cache: ITimingCache, ignore_mismatch: bool) -> bool: ...

    def get_timing_cache(self) -> ITimingCache | None: ...

    def __enter__(self) -> object: ...

    def __exit__(self, *args) -> None: ...

class Builder:
    """Builds engines from network definitions (tensorrt.Builder)."""

    def __init__(self, logger: ILogger) -> None: ...

    def create_network(self, flags: int = 0) -> INetworkDefinition:
        """
        flags: bit mask of NetworkDefinitionCreationFlag (Kiln networks are always explicit batch).
        """

    def create_builder_config(self) -> IBuilderConfig: ...

    def create_optimization_profile(self) -> IOptimizationProfile: ...

    def build_serialized_network(self, network: INetworkDefinition, config: IBuilderConfig) -> IHostMemory | None:
        """
        The serialized engine, or None when the build failed (the reason goes to the logger).
        """

    @property
    def platform_has_fast_fp16(self) -> bool: ...

    @property
    def platform_has_fast_int8(self) -> bool: ...

    @property
    def logger(self) -> object: ...

    def __enter__(self) -> object: ...

    def __exit__(self, *args) -> None: ...

class ErrorCode(enum.IntEnum):
    """Error codes of kiln.OnnxParser."""

    SUCCESS = 0

    INTERNAL_ERROR = 1

    MEM_ALLOC_FAILED = 2

    MODEL_DESERIALIZE_FAILED = 3

    INVALID_VALUE = 4

    INVALID_GRAPH = 5

    INVALID_NODE = 6

    UNSUPPORTED_GRAPH = 7

    UNSUPPORTED_NODE = 8

    UNSUPPORTED_NODE_ATTR = 9

    UNSUPPORTED_NODE_INPUT = 10

    UNSUPPORTED_NODE_DATATYPE = 11

    UNSUPPORTED_NODE_DYNAMIC = 12

    UNSUPPORTED_NODE_SHAPE = 13

    REFIT_FAILED = 14

class ParserError:
    """One error of kiln.OnnxParser (tensorrt.ParserError)."""

    def code(self) -> ErrorCode: ...

    def desc(self) -> str: ...

    def file(self) -> str: ...

    def func(self) -> str: ...

    def line(self) -> int: ...

    def node(self) -> int: ...

    def node_name(self) -> str: ...

    def node_operator(self) -> str: ...

    def __str__(self) -> str: ...

    def __repr__(self) -> str: ...

class OnnxParser:
    """Fills a network definition from an ONNX model (tensorrt.OnnxParser)."""

    def __init__(self, network: INetworkDefinition, logger: ILogger) -> None: ...

    def parse(self, model: Buffer, path: str | None = None) -> bool:
        """
        Parses a serialized ModelProto; `path` locates external-data files. False on error (see get_error).
        """

    def parse_from_file(self, model: str) -> bool: ...

    def supports_model(self, model: Buffer, path: str | None = None) -> tuple[bool, list[tuple[list[int], bool]]]:
        """
        (supported, [(node indices, True), ...]): the runs of nodes Kiln supports, as tensorrt's deprecated supports_model returns them (runs through supports_model_v2).
        """

    def supports_model_v2(self, model: Buffer, path: str | None = None) -> bool:
        """
        True when every node imports; then num_subgraphs, is_subgraph_supported(i) and get_subgraph_nodes(i) describe the nodes cut into supported and unsupported runs (each unsupported node is also an error).
        """

    @property
    def num_subgraphs(self) -> int: ...

    def is_subgraph_supported(self, index: int) -> bool: ...

    def get_subgraph_nodes(self, index: int) -> list:
        """The ONNX node indices of subgraph `index`, in the order they import."""

    def supports_operator(self, op_name: str) -> bool: ...

    @property
    def num_errors(self) -> int: ...

    def get_error(self, index: int) -> ParserError: ...

    def clear_errors(self) -> None: ...

    def __enter__(self) -> object: ...

    def __exit__(self, *args) -> None: ...

class ExecutionContextAllocationStrategy(enum.IntEnum):
    STATIC = 0

    ON_PROFILE_CHANGE = 1

    USER_MANAGED = 2

class IProfiler:
    """
    Subclass and implement report_layer_time(layer_name, ms); set on a context.
    """

    def __init__(self) -> None: ...

    def report_layer_time(self, layer_name: str, ms: float) -> None: ...

class IOutputAllocator:
    """
    Subclass and implement reallocate_output(tensor_name, memory, size, alignment) -> address (or reallocate_output_async(..., stream)) and notify_shape(tensor_name, shape); set on a context with set_output_allocator. Kiln also takes a writable host array as the answer.
    """

    def __init__(self) -> None: ...

    def reallocate_output(self, tensor_name: str, memory: int, size: int, alignment: int) -> int | numpy.ndarray | None: ...

    def reallocate_output_async(self, tensor_name: str, memory: int, size: int, alignment: int, stream: int) -> int | numpy.ndarray | None:
        """Calls reallocate_output (the stream is ignored on the CPU)."""

    def notify_shape(self, tensor_name: str, shape: Dims) -> None: ...

class ICudaEngine:
    """A built engine (the tensorrt name is kept; Kiln's run on the CPU)."""

    @property
    def num_io_tensors(self) -> int: ...

    def get_tensor_name(self, index: int) -> str: ...

    def get_tensor_mode(self, name: str) -> TensorIOMode: ...

    def get_tensor_shape(self, name: str) -> Dims: ...

    def get_tensor_dtype(self, name: str) -> DataType: ...

    def get_tensor_location(self, name: str) -> TensorLocation: ...

    def get_tensor_profile_shape(self, name: str, profile_index: int) -> list[Dims]: ...

    def is_shape_inference_io(self, name: str) -> bool:
        """
        Whether the tensor is a shape-tensor input: its values decide shapes and are read from host memory.
        """

    def get_tensor_profile_values(self, profile_index: int, name: str) -> list[list[int]]:
        """[min, opt, max] values of a shape-tensor input in a profile."""

    @property
    def num_layers(self) -> int: ...

    @property
    def num_optimization_profiles(self) -> int: ...

    @property
    def device_memory_size(self) -> int: ...

    @property
    def device_type(self) -> DeviceType:
        """Kiln: the device the engine was built for (DeviceType.CPU)."""

    def get_layer_information(self, index: int) -> str:
        """Kiln: one line about a layer of the built engine (op, tactic, shapes)."""

    def create_execution_context(self, strategy: ExecutionContextAllocationStrategy = ...) -> IExecutionContext | None:
        """
        A new context, or None when it could not be created (the reason goes to the logger).
        """

    def serialize(self) -> IHostMemory: ...

    def __enter__(self) -> object: ...

    def __exit__(self, *args) -> None:
        """Frees the engine; its execution contexts keep working."""

class IExecutionContext:
    """Runs an engine; holds the addresses of its inputs and outputs."""

    @property
    def engine(self, /) -> ICudaEngine: ...

    def set_tensor_address(self, name: str, memory: int | numpy.ndarray | object) -> bool:
        """
        An integer address (as in tensorrt), or a host array checked against the tensor's dtype and shape.
        """

    def get_tensor_address(self, name: str) -> int: ...

    def set_input_shape(self, name: str, shape: Dims) -> bool: ...

    def get_tensor_shape(self, name: str) -> Dims: ...

    def infer_shapes(self) -> list[str]:
        """
        Names of the inputs whose shape is still missing ([] when every shape is known).
        """

    def set_optimization_profile_async(self, profile_index: int, stream_handle: int = 0) -> bool: ...

    @property
    def active_optimization_profile(self) -> int: ...

    @property
    def all_input_dimensions_specified(self) -> bool: ...

    def execute_v2(self, bindings: Sequence[int | numpy.ndarray | object]) -> bool: ...

    def execute_async_v3(self, stream_handle: int = 0) -> bool:
        """
        Runs with the bound addresses; on the CPU it completes before returning.
        """

    def set_output_allocator(self, name: str, output_allocator: IOutputAllocator | None) -> bool:
        """
        The output's memory comes from the allocator at each run (needed for data-dependent shapes).
        """

    def get_output_allocator(self, name: str) -> IOutputAllocator | None: ...

    def set_num_threads(self, threads: int) -> None:
        """
        Kiln: CPU threads this context runs with (0 = all cores); call before the first run.
        """

    @property
    def profiler(self) -> object: ...

    @profiler.setter
    def profiler(self, arg: object, /) -> None: ...

    @property
    def name(self) -> str: ...

    @name.setter
    def name(self, arg: str, /) -> None: ...

    def __enter__(self) -> object: ...

    def __exit__(self, *args) -> None: ...

class Runtime:
    """Deserializes engines (tensorrt.Runtime)."""

    def __init__(self, logger: ILogger) -> None: ...

    def deserialize_cuda_engine(self, serialized_engine: Buffer) -> ICudaEngine | None:
        """
        The engine, or None when the plan is corrupt or foreign (the reason goes to the logger).
        """

    @property
    def engine_host_code_allowed(self) -> bool:
        """
        Whether plans may bring plugin libraries that deserialization loads (off by default).
        """

    @engine_host_code_allowed.setter
    def engine_host_code_allowed(self, arg: bool, /) -> None: ...

    @property
    def logger(self) -> object: ...

    def __enter__(self) -> object: ...

    def __exit__(self, *args) -> None: ...

class IPluginCreatorV3One:
    """A registered plugin creator (a snapshot of what it reports)."""

    @property
    def name(self) -> str: ...

    @property
    def plugin_version(self) -> str: ...

    @property
    def plugin_namespace(self) -> str: ...

    @property
    def interface_kind(self) -> str:
        """Kiln: e.g. "PLUGIN CREATOR_V3ONE"."""

    @property
    def field_names(self) -> list[str]:
        """Names of the fields create_plugin understands."""

    def __repr__(self) -> str: ...

class IPluginRegistry:
    """The process-wide plugin registry (tensorrt.IPluginRegistry)."""

    def get_creator(self, type: str, version: str, plugin_namespace: str = '') -> IPluginCreatorV3One | None:
        """The creator of (type, version, namespace), or None."""

    @property
    def all_creators(self) -> list[IPluginCreatorV3One]:
        """Every registered creator."""

    def load_library(self, plugin_path: str) -> int:
        """Loads a plugin library and registers its creators; returns its handle."""

    def deregister_library(self, handle: int) -> None: ...

def get_plugin_registry() -> IPluginRegistry:
    """The process-wide plugin registry."""

def init_libnvinfer_plugins(logger: ILogger | None, namespace: str) -> bool:
    """
    Registers Kiln's built-in plugins (EfficientNMS_TRT, ROIAlign_TRT) under `namespace`; `logger` becomes the registry's logger. Safe to call more than once.
    """

init_lib_kiln_plugins = init_libnvinfer_plugins
