"""The flow from the project's seed notes, .pt -> .onnx -> engine, on Kiln:

1. a PyTorch model (random weights) saves its state_dict as a .pt file;
2. the .pt is loaded into a fresh model, which torch.onnx.export writes as ONNX
   with a dynamic width axis (dynamic_axes={"input": {3: "width"}}), as in the seed;
3. Kiln builds an engine for one fixed width (an optimization profile with
   min = opt = max), with the tensorrt-style API;
4. the engine runs, and its output is compared with PyTorch's.

Usage: python3 examples/python/seed_torch_flow.py [--width 448] [--workdir DIR]
Needs PyTorch (pip install torch) and the kiln package (PYTHONPATH=build/python).
"""
import argparse
import inspect
import os
import tempfile

import numpy as np
import torch
from torch import nn

import kiln as trt


class TextLineNet(nn.Module):
    """A small OCR-style network: 32-pixel-high lines of any width -> per-column scores."""

    def __init__(self, classes=10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
            nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
        )
        self.head = nn.Linear(32, classes)

    def forward(self, x):
        f = self.features(x).mean(dim=2)  # (N, 32, W/2): average over the height
        return self.head(f.permute(0, 2, 1))  # (N, W/2, classes)


def torch2onnx(model_path, onnx_path, width):
    """The seed's torch2onnx, with the model loaded from its .pt state_dict."""
    model = TextLineNet()
    model.load_state_dict(torch.load(model_path))
    model.eval()
    kwargs = {}
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        kwargs["dynamo"] = False  # the TorchScript exporter, which takes dynamic_axes
    torch.onnx.export(model, torch.randn(1, 3, 32, width), onnx_path, verbose=False, opset_version=13,
                      input_names=["input"], output_names=["output"],
                      dynamic_axes={"input": {3: "width"}, "output": {1: "columns"}}, **kwargs)
    return model


def build_engine(onnx_path, width, logger):
    builder = trt.Builder(logger)
    network = builder.create_network(1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH))
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(onnx_path):
        raise SystemExit("\n".join(str(parser.get_error(i)) for i in range(parser.num_errors)))
    assert tuple(network.get_input(0).shape)[3] == -1, "the width should be dynamic in the ONNX model"
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, 1 << 30)
    profile = builder.create_optimization_profile()
    shape = (1, 3, 32, width)
    profile.set_shape("input", shape, shape, shape)
    config.add_optimization_profile(profile)
    plan = builder.build_serialized_network(network, config)
    if plan is None:
        raise SystemExit("engine build failed")
    return trt.Runtime(logger).deserialize_cuda_engine(plan)


def run(engine, x):
    context = engine.create_execution_context()
    out = np.empty(tuple(engine.get_tensor_shape("output")), np.float32)
    context.set_tensor_address("input", np.ascontiguousarray(x, np.float32))
    context.set_tensor_address("output", out)
    if not context.execute_async_v3(0):
        raise SystemExit("inference failed")
    return out


def main(workdir, width=448, seed=0):
    torch.manual_seed(seed)
    pt_path = os.path.join(workdir, "textline.pt")
    onnx_path = os.path.join(workdir, "textline.onnx")
    torch.save(TextLineNet().state_dict(), pt_path)
    model = torch2onnx(pt_path, onnx_path, width)
    engine = build_engine(onnx_path, width, trt.Logger(trt.Logger.WARNING))
    x = torch.randn(1, 3, 32, width)
    with torch.no_grad():
        expected = model(x).numpy()
    got = run(engine, x.numpy())
    diff = float(np.abs(got - expected).max())
    print(f"width {width}: output {got.shape}, max |kiln - torch| = {diff:.2e}")
    return diff


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--width", type=int, default=448)
    ap.add_argument("--workdir")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        d = main(args.workdir or tmp, args.width)
    raise SystemExit(0 if d < 1e-3 else 1)
