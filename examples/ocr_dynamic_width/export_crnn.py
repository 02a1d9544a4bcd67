#!/usr/bin/env python3
"""The seed's .pt -> ONNX step for a CRNN-style OCR recognizer (random weights).

Saves the PyTorch weights as a .pt state_dict, loads them back, and exports exactly as the
seed notes do: an input of 1x3x32x448, opset 11, input/output names 'input'/'output',
dynamic_axes={'input': {3: 'width'}}. Needs PyTorch (not needed to run the example).
  python3 examples/ocr_dynamic_width/export_crnn.py --out examples/ocr_dynamic_width
"""
import argparse
import os

import torch
import torch.nn as nn
import torch.onnx as tr_onnx


class CRNN(nn.Module):
    """Conv feature extractor -> one feature column per 4 pixels of width -> per-column classifier.
    (No LSTM: recurrent ops are a later coverage issue.)"""

    def __init__(self, classes=37):
        super().__init__()

        def block(cin, cout, pool):
            return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
                    nn.MaxPool2d(pool, pool)]

        self.features = nn.Sequential(*block(3, 16, (2, 2)), *block(16, 32, (2, 2)), *block(32, 48, (2, 1)),
                                      *block(48, 64, (2, 1)), nn.Conv2d(64, 64, (2, 1)), nn.ReLU(inplace=True))
        self.context = nn.Conv1d(64, 64, 3, padding=1)
        self.classifier = nn.Linear(64, classes)

    def forward(self, x):
        f = self.features(x)            # [b, 64, 1, w/4]
        b, c, h, w = f.size()           # exported as Shape -> Gather: resolved per width at run time
        f = f.view(b, c * h, w)
        f = torch.relu(self.context(f)) + f
        f = f.permute(2, 0, 1)          # [w/4, b, c]
        return self.classifier(f).log_softmax(2)


def torch2onnx(model_path, onnx_path):
    model = CRNN()
    model.load_state_dict(torch.load(model_path))
    model.eval()
    test_arr = torch.randn(1, 3, 32, 448)
    input_names = ['input']
    output_names = ['output']
    tr_onnx.export(model, test_arr, onnx_path, verbose=False, opset_version=11, input_names=input_names,
                   output_names=output_names, dynamic_axes={"input": {3: "width"}}, dynamo=False)
    print('->> model converted:', onnx_path, os.path.getsize(onnx_path), 'bytes')


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    args = ap.parse_args()
    torch.manual_seed(0)
    model = CRNN()
    for m in model.modules():  # non-trivial BatchNorm statistics, as a trained model has
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
    pt = os.path.join(args.out, "crnn.pt")
    torch.save(model.state_dict(), pt)
    torch2onnx(pt, os.path.join(args.out, "crnn_dynamic_width.onnx"))
    os.remove(pt)  # the .pt is a step of the flow, not something to commit
