"""OnnxParser.supports_model_v2 and its subgraph queries (tensorrt 10's names):
a supported model is one supported subgraph; an unsupported op in the middle
cuts it into three runs with the right node indices; the deprecated
supports_model returns the supported runs; malformed bytes give False."""
import pytest

import kiln as trt

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402


def chain_model(middle_op):
    nodes = [
        helper.make_node("Relu", ["x"], ["a"], name="relu"),
        helper.make_node(middle_op, ["a"], ["b"], name="middle"),
        helper.make_node("Sigmoid", ["b"], ["c"], name="sig"),
        helper.make_node("Neg", ["c"], ["y"], name="neg"),
    ]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


@pytest.fixture
def parser(recorder):
    builder = trt.Builder(recorder)
    network = builder.create_network()
    return trt.OnnxParser(network, recorder), network


def test_supported_model_is_one_subgraph(parser):
    p, network = parser
    assert p.num_subgraphs == 0
    assert p.supports_model_v2(chain_model("Abs")) is True
    assert p.num_subgraphs == 1
    assert p.is_subgraph_supported(0) is True
    assert p.get_subgraph_nodes(0) == [0, 1, 2, 3]
    assert network.num_layers == 0
    assert p.supports_model(chain_model("Abs")) == (True, [([0, 1, 2, 3], True)])


def test_unsupported_op_in_the_middle(parser):
    p, _ = parser
    model = chain_model("NoSuchOp")
    assert p.supports_model_v2(model) is False
    assert p.num_subgraphs == 3
    assert [p.is_subgraph_supported(i) for i in range(3)] == [True, False, True]
    assert [p.get_subgraph_nodes(i) for i in range(3)] == [[0], [1], [2, 3]]
    assert p.num_errors == 1
    err = p.get_error(0)
    assert err.node() == 1 and err.node_name() == "middle" and err.node_operator() == "NoSuchOp"
    with pytest.raises(IndexError):
        p.get_subgraph_nodes(3)
    with pytest.raises(IndexError):
        p.is_subgraph_supported(-1)
    p.clear_errors()
    assert p.supports_model(model) == (False, [([0], True), ([2, 3], True)])


def test_malformed_bytes(parser):
    p, _ = parser
    assert p.supports_model_v2(b"not an onnx model") is False
    assert p.num_subgraphs == 0
    assert p.num_errors == 1
    assert p.get_error(0).code() == trt.ErrorCode.MODEL_DESERIALIZE_FAILED
