"""Small helpers of the Python API tests: an ONNX model from onnx.helper, built
into an engine through the tensorrt-shaped API."""
import kiln as trt


def model_bytes(nodes, inputs, outputs, opset=13):
    """Serialized ONNX model of `nodes` (onnx.helper NodeProtos) with value infos."""
    import onnx
    from onnx import helper

    graph = helper.make_graph(nodes, "g", inputs, outputs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model.SerializeToString()


def build_engine(model, logger, configure=None):
    """(engine or None, builder config) for a serialized ONNX model; `configure(builder, network, config)`
    may add profiles or flags before the build."""
    builder = trt.Builder(logger)
    network = builder.create_network(0)
    parser = trt.OnnxParser(network, logger)
    assert parser.parse(model), [str(parser.get_error(i)) for i in range(parser.num_errors)]
    config = builder.create_builder_config()
    if configure:
        configure(builder, network, config)
    plan = builder.build_serialized_network(network, config)
    if plan is None:
        return None, config
    return trt.Runtime(logger).deserialize_cuda_engine(plan), config
