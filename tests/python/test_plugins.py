"""kiln.init_libnvinfer_plugins and kiln.get_plugin_registry (tensorrt's names):
the built-in plugins become visible to the registry and to the ONNX parser."""
import numpy as np
import pytest

import kiln as trt
from kiln_onnx_util import build_engine, model_bytes

pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402


def test_init_registers_the_builtin_creators(recorder):
    assert trt.init_libnvinfer_plugins(recorder, "") is True
    assert trt.init_libnvinfer_plugins(recorder, "") is True  # a second call is harmless
    registry = trt.get_plugin_registry()
    nms = registry.get_creator("EfficientNMS_TRT", "1", "")
    assert nms is not None
    assert nms.name == "EfficientNMS_TRT" and nms.plugin_version == "1" and nms.plugin_namespace == ""
    assert {"score_threshold", "iou_threshold", "max_output_boxes"} <= set(nms.field_names)
    names = {(c.name, c.plugin_namespace) for c in registry.all_creators}
    assert ("EfficientNMS_TRT", "") in names and ("ROIAlign_TRT", "") in names
    assert registry.get_creator("EfficientNMS_TRT", "2", "") is None
    assert registry.get_creator("NoSuchPlugin_TRT", "1") is None
    assert trt.init_lib_kiln_plugins is trt.init_libnvinfer_plugins
    assert recorder.errors() == []


def test_init_under_a_namespace():
    registry = trt.get_plugin_registry()
    assert trt.init_libnvinfer_plugins(None, "pytest_ns")
    c = registry.get_creator("ROIAlign_TRT", "1", "pytest_ns")
    assert c is not None and c.plugin_namespace == "pytest_ns"


def test_load_library_of_a_missing_file_raises_with_the_reason(recorder):
    trt.init_libnvinfer_plugins(recorder, "")
    with pytest.raises(trt.KilnError, match="no_such_plugin_lib.so"):
        trt.get_plugin_registry().load_library("/nonexistent/no_such_plugin_lib.so")


def nms_model():
    node = helper.make_node(
        "EfficientNMS_TRT", ["boxes", "scores"],
        ["num_detections", "detection_boxes", "detection_scores", "detection_classes"],
        score_threshold=0.1, iou_threshold=0.5, max_output_boxes=3, background_class=-1,
        score_activation=0, box_coding=0, plugin_version="1")
    return model_bytes(
        [node],
        [helper.make_tensor_value_info("boxes", TensorProto.FLOAT, [1, 4, 4]),
         helper.make_tensor_value_info("scores", TensorProto.FLOAT, [1, 4, 1])],
        [helper.make_tensor_value_info("num_detections", TensorProto.INT32, [1, 1]),
         helper.make_tensor_value_info("detection_boxes", TensorProto.FLOAT, [1, 3, 4]),
         helper.make_tensor_value_info("detection_scores", TensorProto.FLOAT, [1, 3]),
         helper.make_tensor_value_info("detection_classes", TensorProto.INT32, [1, 3])])


def test_onnx_model_with_an_efficient_nms_node_parses_builds_and_runs():
    logger = trt.Logger(trt.Logger.ERROR)
    assert trt.init_libnvinfer_plugins(logger, "")
    engine, _ = build_engine(nms_model(), logger)
    assert engine is not None
    boxes = np.array([[[0, 0, 1, 1],         # kept (0.9)
                       [0, 0, 1, 0.95],      # IoU 0.95 with the first: dropped
                       [2, 2, 3, 3],         # kept (0.7)
                       [5, 5, 6, 6]]],       # below score_threshold
                     np.float32)
    scores = np.array([[[0.9], [0.8], [0.7], [0.05]]], np.float32)
    out = {
        "num_detections": np.full((1, 1), -1, np.int32),
        "detection_boxes": np.full((1, 3, 4), np.nan, np.float32),
        "detection_scores": np.full((1, 3), np.nan, np.float32),
        "detection_classes": np.full((1, 3), -1, np.int32),
    }
    ctx = engine.create_execution_context()
    ctx.set_tensor_address("boxes", boxes)
    ctx.set_tensor_address("scores", scores)
    for name, a in out.items():
        ctx.set_tensor_address(name, a)
    assert ctx.execute_async_v3(0)
    assert out["num_detections"].tolist() == [[2]]
    np.testing.assert_array_equal(out["detection_boxes"][0, :2], boxes[0, [0, 2]])
    np.testing.assert_allclose(out["detection_scores"][0, :2], [0.9, 0.7])
    assert out["detection_classes"][0, :2].tolist() == [0, 0]
    # The rest of each row is zero.
    assert not out["detection_boxes"][0, 2].any() and out["detection_scores"][0, 2] == 0
