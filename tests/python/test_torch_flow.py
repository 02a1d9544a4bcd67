"""The seed's flow (examples/python/seed_torch_flow.py): PyTorch .pt -> ONNX with
a dynamic width -> Kiln engine for a fixed width -> same output as PyTorch.
Skipped where PyTorch is not installed."""
import importlib.util
import os

import pytest

from conftest import ROOT

torch = pytest.importorskip("torch")


def test_pt_to_onnx_to_engine_matches_pytorch(tmp_path):
    path = os.path.join(ROOT, "examples", "python", "seed_torch_flow.py")
    spec = importlib.util.spec_from_file_location("seed_torch_flow", path)
    flow = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(flow)
    assert flow.main(str(tmp_path), width=64) < 1e-3
