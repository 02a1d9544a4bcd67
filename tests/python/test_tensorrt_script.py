"""The TensorRT-style script of docs/python.md runs as written and matches ONNX Runtime."""
import os
import re
import subprocess
import sys

import numpy as np

from conftest import MODELS, ROOT, assert_close, ort_run


def doc_script():
    text = open(os.path.join(ROOT, "docs", "python.md"), encoding="utf-8").read()
    m = re.search(r"<!-- tensorrt-script -->\s*```python\n(.*?)```", text, re.S)
    assert m, "docs/python.md lost its <!-- tensorrt-script --> block"
    return m.group(1)


def test_script_uses_only_the_import_change():
    script = doc_script()
    assert "import kiln as trt" in script
    assert "kiln." not in script.replace("import kiln as trt", "")  # everything else is tensorrt's API


def test_script_runs_and_matches_onnxruntime(tmp_path):
    script = tmp_path / "sample.py"
    script.write_text(doc_script())
    model = os.path.join(MODELS, "small_cnn.onnx")
    out = tmp_path / "io.npz"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    proc = subprocess.run([sys.executable, str(script), model, str(tmp_path / "m.engine"), str(out)],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "probs" in proc.stdout and "logits" in proc.stdout
    assert (tmp_path / "m.engine").stat().st_size > 0
    io = dict(np.load(out))
    expected = ort_run(model, {"input": io["input"]})
    for name in ("probs", "logits"):
        assert_close(io[name], expected[name])
