#!/usr/bin/env python3
"""Checks of bench/run_cuda.py's parts that need no GPU: kilnexec's summary parser (on trtexec's
own line format), the argument handling and run plan, and the report writer (on a fixture).

  python3 bench/test_run_cuda.py        (or: python3 -m pytest bench/test_run_cuda.py)
  KILN_BENCH_WORKER_TEST=1 python3 bench/test_run_cuda.py   also runs the PyTorch worker and main() on the
  CPU with a stand-in kilnexec (minutes).
"""
import json
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import cuda_report  # noqa: E402
import run_cuda  # noqa: E402

# trtexec 10's summary lines, as kilnexec prints them (docs/kilnexec.md "Output").
TRTEXEC_SUMMARY = """\
[12/01/2026-10:00:00] [I] Plan size: 51200000 bytes (48.8281 MiB)
[12/01/2026-10:00:00] [I] Device memory (activation arena + workspace): 12582912 bytes
[12/01/2026-10:00:01] [I] === Performance summary ===
[12/01/2026-10:00:01] [I] Throughput: 1834.22 qps
[12/01/2026-10:00:01] [I] Latency: min = 0.61 ms, max = 0.93 ms, mean = 0.66 ms, median = 0.65 ms, percentile(90%) = 0.7 ms, percentile(95%) = 0.72 ms, percentile(99%) = 0.9 ms
[12/01/2026-10:00:01] [I] Enqueue Time: min = 0.1 ms, max = 0.2 ms, mean = 0.12 ms, median = 0.11 ms, percentile(90%) = 0.15 ms, percentile(95%) = 0.16 ms, percentile(99%) = 0.19 ms
[12/01/2026-10:00:01] [I] H2D Latency: min = 0.05 ms, max = 0.08 ms, mean = 0.06 ms, median = 0.055 ms, percentile(90%) = 0.07 ms, percentile(95%) = 0.07 ms, percentile(99%) = 0.08 ms
[12/01/2026-10:00:01] [I] GPU Compute Time: min = 0.52 ms, max = 0.81 ms, mean = 0.545 ms, median = 0.5412 ms, percentile(90%) = 0.6 ms, percentile(95%) = 0.62 ms, percentile(99%) = 0.8 ms
[12/01/2026-10:00:01] [I] D2H Latency: min = 0.01 ms, max = 0.02 ms, mean = 0.012 ms, median = 0.011 ms, percentile(90%) = 0.015 ms, percentile(95%) = 0.016 ms, percentile(99%) = 0.02 ms
[12/01/2026-10:00:01] [I] Total Host Walltime: 3.00 s
"""


def fixture_result():
    """A result dict with every kind of cell: measured, compile fallback, n/a, failed, not run."""
    def t(ms, mem=None, **kw):
        return dict(median_ms=ms, min_ms=ms * 0.9, mean_ms=ms * 1.05, mem_bytes=mem, **kw)
    return {
        "device": {"name": "fixture GPU", "driver": "0"},
        "versions": {"torch": "x", "cuda": "y", "cudnn": "z", "kiln_commit": "abc"},
        "roofline": {"gemm_tflops": 700.0, "copy_tbps": 3.0},
        "rows": [
            {"model": "resnet50", "batch": 1, "precision": "fp16", "flops": 8.2e9, "eager": t(3.76, 200 * 2**20),
             "compile": dict(t(1.99, 150 * 2**20), mode="max-autotune"), "kiln": t(0.5, 120 * 2**20),
             "kiln_plain": t(0.4), "torch_err": 2e-3, "kiln_err": 3e-3},
            {"model": "bert_base", "batch": 32, "precision": "fp16", "flops": 2.2e10, "eager": t(6.86),
             "compile": dict(t(3.55), mode="default", note="max-autotune: compile exceeded 60 s; default mode used"),
             "kiln": t(2.0)},
            {"model": "vit_b_16", "batch": 1, "precision": "bf16", "flops": 3.5e10, "eager": t(2.83),
             "compile": {"error": "max-autotune: compile exceeded 60 s; default: skipped: over the run's --budget"},
             "kiln": {"na": "kilnexec has no --bf16"}},
            {"model": "yolo", "batch": 16, "precision": "fp32", "flops": None, "eager": {"error": "OOM"},
             "compile": None, "kiln": {"error": "no 'GPU Compute Time' line in kilnexec's output"}},
        ],
    }


def test_parse_kilnexec_summary():
    s = cuda_report.parse_kilnexec(TRTEXEC_SUMMARY)
    assert s["gpu_compute"] == {"min": 0.52, "max": 0.81, "mean": 0.545, "median": 0.5412}
    assert s["latency"]["median"] == 0.65  # not the H2D/D2H lines
    assert s["h2d"]["median"] == 0.055 and s["d2h"]["median"] == 0.011 and s["enqueue"]["median"] == 0.11
    assert s["throughput_qps"] == 1834.22
    assert s["device_mem_bytes"] == 12582912 and s["plan_bytes"] == 51200000
    assert cuda_report.parse_kilnexec("&&&& FAILED Kiln.kilnexec") == {}


def test_arguments_and_plan():
    a = run_cuda.parse_args(["--workdir", "/tmp/x"])
    runs = run_cuda.plan(a)
    assert [(m, b) for m, b, _, _ in runs] == [("resnet50", 1), ("resnet50", 128), ("vit_b_16", 1), ("vit_b_16", 64),
                                               ("bert_base", 1), ("bert_base", 32), ("yolo", 1), ("yolo", 16)]
    assert runs[0][2:] == (100, 20) and runs[1][2:] == (25, 5)  # fewer runs at large batch
    assert a.precision_list == ["fp32", "fp16", "bf16"]
    assert run_cuda.torch_tasks(a, True)[:2] == ["fp32:eager", "fp32:compile:max-autotune"]
    q = run_cuda.parse_args(["--quick", "--models", "bert_base,yolo"])
    assert [(m, b) for m, b, _, _ in run_cuda.plan(q)] == [("bert_base", 1), ("yolo", 1)]
    assert q.precision_list == ["fp16"] and run_cuda.torch_tasks(q, False) == ["fp16:eager"]
    for bad in (["--models", "resnet18"], ["--precisions", "int8"]):
        try:
            run_cuda.parse_args(bad)
        except SystemExit as e:
            assert e.code == 2
        else:
            raise AssertionError(f"{bad} was accepted")


def test_pick_compile_falls_back_and_records_why():
    ok = {"fp16:compile:max-autotune": {"median_ms": 1.0}}
    assert run_cuda.pick_compile(ok, "fp16")["mode"] == "max-autotune"
    fb = {"fp16:compile:max-autotune": {"error": "compile exceeded 60 s"},
          "fp16:compile:reduce-overhead": {"median_ms": 2.0}}
    r = run_cuda.pick_compile(fb, "fp16")
    assert r["mode"] == "reduce-overhead" and "exceeded" in r["note"]
    bad = {"fp16:compile:max-autotune": {"error": "E1"}, "fp16:compile:reduce-overhead": {"error": "E2"}}
    assert "E1" in run_cuda.pick_compile(bad, "fp16")["error"] and "E2" in run_cuda.pick_compile(bad, "fp16")["error"]
    assert run_cuda.pick_compile({}, "fp16") is None


def test_fill_compile_from_takes_missing_figures_only(tmp=None):
    d = tmp or tempfile.mkdtemp()
    earlier = os.path.join(d, "earlier.json")
    with open(earlier, "w") as f:
        json.dump({"rows": [{"model": "bert_base", "batch": 1, "precision": "fp16",
                             "compile": {"median_ms": 0.5, "mode": "reduce-overhead", "note": "max-autotune: late"}},
                            {"model": "yolo", "batch": 1, "precision": "fp16", "compile": {"median_ms": 0.7}}]}, f)
    rows = [{"model": "bert_base", "batch": 1, "precision": "fp16", "compile": None},
            {"model": "yolo", "batch": 1, "precision": "fp16", "compile": {"median_ms": 0.6}},
            {"model": "yolo", "batch": 16, "precision": "fp16", "compile": {"error": "budget"}}]
    run_cuda.fill_compile_from(rows, [earlier])
    assert rows[0]["compile"]["median_ms"] == 0.5
    assert "earlier.json" in rows[0]["compile"]["note"] and "max-autotune: late" in rows[0]["compile"]["note"]
    assert rows[1]["compile"] == {"median_ms": 0.6}  # this run's own figure stays
    assert rows[2]["compile"] == {"error": "budget"}  # nothing earlier to take


def test_report_writer():
    md = cuda_report.render(fixture_result())
    rows = [l for l in md.splitlines() if l.startswith("| ")]
    assert len(rows) == 1 + 4  # header + one per fixture row
    r50 = rows[1]
    assert "| ResNet-50 | 1 | FP16 | 3.760 | 1.990 (max-autotune) | 0.500 |" in r50
    assert "3.98×" in r50 and "0.25×" in r50  # 1.99 / 0.5 throughput ratio; 0.5 / 1.99 latency ratio
    assert "200 / 150 / 120" in r50
    assert "2.3%" in r50  # 8.2 GFLOP / 0.5 ms = 16.4 TFLOP/s of 700
    assert "2.0e-03 / 3.0e-03" in r50
    assert "(default)" in rows[2] and "16,000" in rows[2]  # 32 / 2 ms
    assert "| n/a |" in rows[3] and "| skipped (budget) |" in rows[3] and "| failed |" in rows[4]
    assert "default mode used" in md and "kilnexec has no --bf16" in md and "without a CUDA graph (one enqueueV3 per query): 0.400 ms" in md
    assert "700 TFLOP/s" in md and "DRY RUN" not in md
    dry = dict(fixture_result(), dry_run=True)
    assert cuda_report.render(dry).startswith("**DRY RUN")


def test_update_doc_replaces_its_section_only():
    import tempfile
    path = os.path.join(tempfile.mkdtemp(), "b.md")
    with open(path, "w") as f:
        f.write("# Title\n\nintro\n")
    run_cuda.update_doc(path, "TABLE 1\n")
    run_cuda.update_doc(path, "TABLE 2\n")
    text = open(path).read()
    assert text.startswith("# Title\n\nintro\n") and "TABLE 2" in text and "TABLE 1" not in text
    assert text.count(run_cuda.DOC_BEGIN) == 1 and text.count("## GPU") == 1
    with open(path, "a") as f:
        f.write("\n## After\n")
    run_cuda.update_doc(path, "TABLE 3\n")
    text = open(path).read()
    assert "TABLE 3" in text and text.rstrip().endswith("## After")


def test_rel_err():
    import numpy as np
    assert run_cuda.rel_err(np.array([1.0, 2.0]), np.array([1.0, 2.0])) == 0.0
    assert abs(run_cuda.rel_err(np.array([1.0, 2.02]), np.array([1.0, 2.0])) - 0.01) < 1e-12
    assert run_cuda.rel_err(np.zeros(3), np.zeros(2)) == float("inf")


def test_torch_worker_on_cpu(tmp=None):
    """The PyTorch worker and run_torch's task handling, on the CPU (the YOLO model at 64x64 would differ
    from the benchmark's, so the real 640x640 one runs: 2 timed runs, eager FP32 only). Skipped without torch."""
    if not os.environ.get("KILN_BENCH_WORKER_TEST") and tmp is None:
        print("skipped: set KILN_BENCH_WORKER_TEST=1 (runs ResNet-50 on the CPU: minutes on a busy machine)")
        return "skipped"
    try:
        import torch  # noqa: F401
        import torchvision  # noqa: F401
    except ImportError:
        print("skipped: no torch")
        return "skipped"
    import tempfile
    import time
    work = tmp or tempfile.mkdtemp(prefix="kiln_bench_cuda_test_")
    a = run_cuda.parse_args(["--workdir", work, "--models", "resnet50", "--precisions", "fp32", "--torch-device", "cpu"])
    res = run_cuda.run_torch(a, "resnet50", 1, 2, 1, ["fp32:eager", "fp32:nonsense"], time.time() + 600)
    assert res["fp32:eager"].get("median_ms", 0) > 0, res
    assert os.path.exists(os.path.join(work, "resnet50_b1_torch_fp32.npy"))
    assert "error" in res["fp32:nonsense"]  # an unknown kind is a recorded error, not a crash
    # A torch.compile over its limit is killed, retried in mode reduce-overhead, and that one is killed too.
    a.compile_limit = a.default_compile_limit = 1
    res = run_cuda.run_torch(a, "resnet50", 1, 2, 1, ["fp32:compile:max-autotune"], time.time() + 600)
    assert res["fp32:compile:max-autotune"].get("timeout") and res["fp32:compile:reduce-overhead"].get("timeout"), res
    assert "exceeded" in run_cuda.pick_compile(res, "fp32")["error"]
    # Past the budget no compile starts.
    res = run_cuda.run_torch(a, "resnet50", 1, 2, 1, ["fp32:compile:max-autotune"], time.time())
    assert "budget" in res["fp32:compile:max-autotune"]["error"]
    # The whole main() with a stand-in kilnexec (trtexec's summary lines; rejects --bf16).
    fake = os.path.join(work, "fake_kilnexec.py")
    with open(fake, "w") as f:
        f.write(FAKE_KILNEXEC)
    os.chmod(fake, 0o755)
    rc = run_cuda.main(["--workdir", work, "--models", "resnet50", "--batch-sizes", "1", "--precisions", "fp32,bf16",
                        "--no-compile", "--torch-device", "cpu", "--kilnexec", fake, "--iters", "2", "--warmup", "1"])
    assert rc == 0
    import json
    with open(os.path.join(work, "cuda_bench.json")) as f:
        result = json.load(f)
    fp32, bf16 = result["rows"]
    assert fp32["kiln"]["median_ms"] == 2.5 and fp32["kiln"]["mem_bytes"] == 3048
    assert fp32["kiln_err"] == 1.0  # the stand-in's zeros against PyTorch's logits
    assert fp32["torch_err"] == 0.0 and fp32["eager"]["median_ms"] > 0
    assert bf16["kiln"]["na"] == "kilnexec has no --bf16"
    assert bf16["eager"]["median_ms"] > 0 and "torch_err" in bf16
    assert "| ResNet-50 | 1 | FP32 |" in open(os.path.join(work, "cuda_bench.md")).read()


FAKE_KILNEXEC = """#!/usr/bin/env python3
import json, sys
args = dict(a.split("=", 1) for a in sys.argv[1:] if "=" in a)
if "--bf16" in sys.argv:
    print("kilnexec: error: unknown option '--bf16' (see --help)", file=sys.stderr)
    sys.exit(2)
if "--exportOutput" in args:
    json.dump([{"name": "logits", "dimensions": "1x1000", "values": [0.0] * 1000}], open(args["--exportOutput"], "w"))
print("[I] Plan size: 1000 bytes (0.001 MiB)")
print("[I] Device memory (activation arena + workspace): 2048 bytes")
print("[I] Throughput: 400 qps")
print("[I] GPU Compute Time: min = 1 ms, max = 3 ms, mean = 2 ms, median = 2.5 ms, percentile(90%) = 3 ms")
"""


if __name__ == "__main__":
    for name, fn in list(globals().items()):
        if name.startswith("test_"):
            if fn() != "skipped":
                print("ok", name)
