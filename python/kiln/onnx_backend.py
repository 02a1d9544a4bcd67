"""Kiln as an ONNX backend (onnx.backend.base.Backend), so that ONNX's backend
test runner and other backend users can run models on Kiln::

    import kiln.onnx_backend as backend
    rep = backend.prepare(model, device="CPU")
    outputs = rep.run([x])

A model whose inputs all have static shapes is built in ``prepare``; otherwise
the engine is built on the first ``run`` for the shapes given there (and built
again, and cached, for other shapes).

Kiln needs the values that decide shapes (Reshape's shape, Slice's starts, ...)
at build time. When a build fails only for that reason, the model is built
again at ``run`` with its inputs of rank <= 1 turned into initializers holding
the values given there — as the C++ conformance runner does (tests/onnx).
"""
import re

import numpy as np
import onnx
from onnx import numpy_helper
from onnx.backend.base import Backend, BackendRep, namedtupledict

from . import KilnError, easy

_NEEDS_CONSTANTS = re.compile("must be a constant|is not a constant|even with every input shape known")


def _static_shape(value_info):
    """The shape of a graph input, or None when a dimension is not a number."""
    t = value_info.type
    if not t.HasField("tensor_type") or not t.tensor_type.HasField("shape"):
        return None
    dims = []
    for d in t.tensor_type.shape.dim:
        if not d.HasField("dim_value"):
            return None
        dims.append(d.dim_value)
    return tuple(dims)


class KilnBackendRep(BackendRep):
    def __init__(self, model, device="CPU"):
        self._proto = model
        self._model = model.SerializeToString()
        initializers = {i.name for i in model.graph.initializer}
        self.input_names = [i.name for i in model.graph.input if i.name not in initializers]
        self.output_names = [o.name for o in model.graph.output]
        # Kiln computes DOUBLE as float; outputs go back in the declared type.
        self._declared = {}
        for o in model.graph.output:
            if o.type.HasField("tensor_type") and o.type.tensor_type.elem_type == onnx.TensorProto.DOUBLE:
                self._declared[o.name] = np.float64
        self._engines = {}
        self._freeze = False  # build with the small inputs' values as constants
        shapes = {i.name: _static_shape(i) for i in model.graph.input if i.name not in initializers}
        if all(s is not None for s in shapes.values()):
            try:
                self._engine_for(shapes, {})
            except KilnError as e:
                if not _NEEDS_CONSTANTS.search(str(e)):
                    raise
                self._freeze = True

    def _engine_for(self, shapes, feeds):
        frozen = {}
        if self._freeze:
            frozen = {k: v for k, v in feeds.items() if v.ndim <= 1}
        key = (tuple(sorted(shapes.items())),
               tuple(sorted((k, v.dtype.str, v.tobytes()) for k, v in frozen.items())))
        engine = self._engines.get(key)
        if engine is None:
            if frozen:
                engine = easy.build(self._frozen_model(frozen), progress=False,
                                    shapes={k: v for k, v in shapes.items() if k not in frozen})
            else:
                try:
                    engine = easy.build(self._model, shapes=shapes, progress=False)
                except KilnError as e:
                    if self._freeze or not _NEEDS_CONSTANTS.search(str(e)) or not feeds:
                        raise
                    self._freeze = True
                    return self._engine_for(shapes, feeds)
            self._engines[key] = engine
        return engine

    def _frozen_model(self, frozen):
        m = onnx.ModelProto()
        m.CopyFrom(self._proto)
        keep = [i for i in m.graph.input if i.name not in frozen]
        del m.graph.input[:]
        m.graph.input.extend(keep)
        for name, value in frozen.items():
            m.graph.initializer.append(numpy_helper.from_array(value, name))
        return m

    def run(self, inputs, **kwargs):
        if isinstance(inputs, dict):
            feeds = dict(inputs)
        else:
            if isinstance(inputs, np.ndarray):
                inputs = [inputs]
            if len(inputs) != len(self.input_names):
                raise ValueError(f"the model has {len(self.input_names)} inputs ({self.input_names}), "
                                 f"got {len(inputs)} arrays")
            feeds = dict(zip(self.input_names, inputs))
        feeds = {k: np.asarray(v) for k, v in feeds.items()}
        engine = self._engine_for({k: tuple(v.shape) for k, v in feeds.items()}, feeds)
        outputs = engine.infer({k: v for k, v in feeds.items() if k in engine.inputs})
        for name, dtype in self._declared.items():
            outputs[name] = outputs[name].astype(dtype)
        return namedtupledict("Outputs", self.output_names)(*[outputs[n] for n in self.output_names])


class KilnBackend(Backend):
    @classmethod
    def is_compatible(cls, model, device="CPU", **kwargs):
        return cls.supports_device(device)

    @classmethod
    def prepare(cls, model, device="CPU", **kwargs):
        if not cls.supports_device(device):
            raise RuntimeError(f"kiln.onnx_backend: device {device!r} is not supported (Kiln runs on the CPU)")
        if isinstance(model, (str, bytes)):
            model = onnx.load(model) if isinstance(model, str) else onnx.load_from_string(model)
        super().prepare(model, device, **kwargs)  # onnx.checker
        return KilnBackendRep(model, device)

    @classmethod
    def run_model(cls, model, inputs, device="CPU", **kwargs):
        return cls.prepare(model, device, **kwargs).run(inputs)

    @classmethod
    def run_node(cls, node, inputs, device="CPU", outputs_info=None, **kwargs):
        """Runs one node by wrapping it in a model with the inputs' types."""
        super().run_node(node, inputs, device=device, outputs_info=outputs_info, **kwargs)
        from onnx import helper

        inputs = [np.asarray(x) for x in inputs]
        graph_inputs = [helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(x.dtype), x.shape)
                        for name, x in zip(node.input, inputs)]
        graph_outputs = [helper.make_empty_tensor_value_info(name) for name in node.output]
        if outputs_info:
            graph_outputs = [helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(np.dtype(t)), s)
                             for name, (t, s) in zip(node.output, outputs_info)]
        graph = helper.make_graph([node], "run_node", graph_inputs, graph_outputs)
        opset = kwargs.get("opset_version", onnx.defs.onnx_opset_version())
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
        return cls.run_model(model, inputs, device)

    @classmethod
    def supports_device(cls, device):
        return str(device).upper() == "CPU"


prepare = KilnBackend.prepare
run_model = KilnBackend.run_model
run_node = KilnBackend.run_node
supports_device = KilnBackend.supports_device
is_compatible = KilnBackend.is_compatible
