"""Shared fixtures of the Python API tests (run by ctest as `python_api`, with
PYTHONPATH at <build>/python; run by hand, build/python is used)."""
import os
import sys

import numpy as np
import pytest

ROOT = os.environ.get("KILN_SOURCE_DIR") or os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODELS = os.path.join(ROOT, "tests", "models")

try:
    import kiln  # noqa: F401
except ImportError:
    sys.path.insert(0, os.path.join(ROOT, "build", "python"))


@pytest.fixture
def models_dir():
    return MODELS


def ort_run(model_path, feeds):
    """ONNX Runtime's outputs {name: array} for `feeds`."""
    ort = pytest.importorskip("onnxruntime")
    sess = ort.InferenceSession(model_path, providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(names, feeds)))


class RecordingLogger:
    """Factory for a kiln.ILogger subclass that records (severity, msg)."""

    @staticmethod
    def make():
        import kiln

        class Recorder(kiln.ILogger):
            def __init__(self):
                kiln.ILogger.__init__(self)
                self.messages = []

            def log(self, severity, msg):
                self.messages.append((severity, msg))

            def errors(self):
                return [m for s, m in self.messages if s <= kiln.ILogger.ERROR]

        return Recorder()


@pytest.fixture
def recorder():
    return RecordingLogger.make()


def assert_close(actual, expected, rtol=1e-3, atol=1e-4):
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol)
