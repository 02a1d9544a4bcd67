"""ONNX's backend test runner through kiln.onnx_backend, on a small selection of
node tests (the whole suite: tests/python/onnx_backend_all.py)."""
import re

import pytest

pytest.importorskip("onnx")
import onnx.backend.test  # noqa: E402

from kiln import onnx_backend  # noqa: E402

SELECTED = [
    "test_relu",
    "test_add_bcast",
    "test_conv_with_strides_padding",
    "test_gemm_default_no_bias",
    "test_softmax_axis_1",
    "test_reshape_reordered_all_dims",
    "test_reshape_negative_dim",
    "test_maxpool_2d_pads",
    "test_transpose_default",
    "test_concat_2d_axis_1",
    # Data-dependent outputs, through Engine.infer's output allocator.
    "test_nonzero_example",
    "test_unique_sorted_with_axis",
    "test_nonmaxsuppression_two_batches",
]
PATTERN = re.compile("^(" + "|".join(SELECTED) + ")_cpu$")

backend_test = onnx.backend.test.BackendTest(onnx_backend.KilnBackend, __name__)
backend_test.include(PATTERN.pattern)
test_cases = backend_test.test_cases
# Drop the thousands of excluded tests instead of reporting them as skipped.
for case in test_cases.values():
    for attr in [a for a in vars(case) if a.startswith("test_") and not PATTERN.match(a)]:
        delattr(case, attr)
globals().update(test_cases)


def test_the_selection_is_not_empty():
    names = [a for case in test_cases.values() for a in vars(case) if a.startswith("test_")]
    assert len(names) == len(SELECTED), sorted(names)
