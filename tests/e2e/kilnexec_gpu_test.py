#!/usr/bin/env python3
"""kilnexec on a CUDA engine (--device=cuda), as trtexec runs one: the GPU
summary lines (H2D / GPU compute / D2H from CUDA events), --useCudaGraph,
--noDataTransfers, --useSpinWait, --infStreams/--streams, --exportTimes,
--dumpProfile, and outputs that match the CPU engine's.

Run: kilnexec_gpu_test.py --kilnexec path/to/kilnexec --models tests/models [unittest args]
Exits 77 (reported as skipped by ctest), saying why, where no GPU is usable
or numpy is missing.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import unittest

try:
    import numpy as np
except ImportError as e:  # pragma: no cover
    print(f"kilnexec_gpu_test: skipped, {e} (run scripts/setup.sh)")
    sys.exit(77)

KILNEXEC = None
MODELS = None
NUM = r"([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)"
STATS = (rf"min = {NUM} ms, max = {NUM} ms, mean = {NUM} ms, median = {NUM} ms, "
         rf"percentile\(90%\) = {NUM} ms, percentile\(95%\) = {NUM} ms, percentile\(99%\) = {NUM} ms$")
SHORT = ["--iterations=20", "--warmUp=20", "--duration=0"]
RTOL, ATOL = 1e-4, 1e-5


def run(*args, check=None):
    p = subprocess.run([KILNEXEC, *args], capture_output=True, text=True, timeout=600)
    if check is not None and (p.returncode == 0) != check:
        raise AssertionError(f"kilnexec {' '.join(args)} -> rc {p.returncode}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}")
    return p


def stats(out, name):
    m = re.search(rf"\[I\] {name}: {STATS}", out, re.M)
    if not m:
        raise AssertionError(f"no '{name}' summary line in:\n{out}")
    return dict(zip(("min", "max", "mean", "median"), (float(m.group(i)) for i in range(1, 5))))


def load_json(path):
    with open(path) as fh:
        return json.load(fh)


class KilnexecGpu(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="kilnexec_gpu_")
        cls.cnn = os.path.join(MODELS, "small_cnn.onnx")
        cls.transformer = os.path.join(MODELS, "small_transformer.onnx")
        cls.plan = cls.path("small_cnn.cuda.plan")
        run(f"--onnx={cls.cnn}", "--device=cuda", "--noTF32", f"--saveEngine={cls.plan}", "--skipInference",
            check=True)
        # The transformer's inputs: token ids in its vocabulary (100), a mask with padding at the end of row 1.
        ids = (np.arange(32, dtype=np.int64).reshape(2, 16) * 37 + 11) % 100
        mask = np.ones((2, 16), np.int64)
        mask[1, -3:] = 0
        cls.transformer_inputs = []
        for name, value in (("input_ids", ids), ("attention_mask", mask)):
            f = cls.path(f"{name}.bin")
            value.tofile(f)
            cls.transformer_inputs.append(f"{name}:{f}")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    @classmethod
    def path(cls, name):
        return os.path.join(cls.tmp.name, name)

    def gpu_run(self, *flags):
        return run(f"--loadEngine={self.plan}", "--device=cuda", *SHORT, *flags, check=True)

    # --- the report -------------------------------------------------------
    def test_summary_lines(self):
        out = self.gpu_run().stdout
        self.assertRegex(out.splitlines()[-1], r"^&&&& PASSED Kiln\.kilnexec")
        self.assertRegex(out, r"\[I\] Selected Device: \S")
        self.assertRegex(out, r"\[I\] Compute Capability: \d+\.\d+")
        m = re.search(rf"\[I\] Throughput: {NUM} qps$", out, re.M)
        self.assertTrue(m and float(m.group(1)) > 0, out)
        s = {n: stats(out, n) for n in ("Latency", "Enqueue Time", "H2D Latency", "GPU Compute Time", "D2H Latency")}
        for name, v in s.items():
            self.assertTrue(0 <= v["min"] <= v["median"] <= v["max"] and v["min"] <= v["mean"] <= v["max"], name)
        for name in ("H2D Latency", "D2H Latency", "GPU Compute Time"):
            self.assertGreater(s[name]["mean"], 0, f"{name} is 0 with data transfers on")
        parts = s["H2D Latency"]["mean"] + s["GPU Compute Time"]["mean"] + s["D2H Latency"]["mean"]
        self.assertAlmostEqual(s["Latency"]["mean"], parts, delta=1e-3 * parts + 1e-4,
                               msg="Latency is not H2D + GPU Compute + D2H")
        for name in ("Total Host Walltime", "Total GPU Compute Time"):
            self.assertRegex(out, re.compile(rf"\[I\] {name}: {NUM} s$", re.M))
        self.assertRegex(out, r"Timing trace has 20 queries over")
        self.assertNotIn("compute ran on the CPU", out)
        self.assertIn("Data transfers: Enabled", out)

    def test_no_data_transfers(self):
        out = self.gpu_run("--noDataTransfers").stdout
        self.assertEqual(stats(out, "H2D Latency")["max"], 0.0)
        self.assertEqual(stats(out, "D2H Latency")["max"], 0.0)
        self.assertGreater(stats(out, "GPU Compute Time")["mean"], 0)
        self.assertIn("Data transfers: Disabled", out)

    def test_cuda_graph(self):
        p = self.gpu_run("--useCudaGraph")
        self.assertIn("Successfully captured CUDA graph", p.stdout, p.stderr)
        self.assertNotIn("CUDA graph capture failed", p.stderr)
        self.assertIn("CUDA Graph: Enabled", p.stdout)
        self.assertGreater(stats(p.stdout, "GPU Compute Time")["mean"], 0)

    def test_spin_wait(self):
        out = self.gpu_run("--useSpinWait").stdout
        self.assertIn("Spin-wait: Enabled", out)
        self.assertNotIn("no effect", out)

    def test_streams(self):
        for flags in (["--infStreams=2"], ["--streams=3"], ["--infStreams=2", "--useCudaGraph", "--noDataTransfers"]):
            with self.subTest(flags=flags):
                out = self.gpu_run(*flags).stdout
                n = int(re.search(r"Inference Streams: (\d+)", out).group(1))
                self.assertEqual(n, int(flags[0].split("=")[1]))
                queries = int(re.search(r"Timing trace has (\d+) queries", out).group(1))
                self.assertGreaterEqual(queries, 20 * n, "each stream runs --iterations queries")
                if "--useCudaGraph" in flags:
                    self.assertEqual(out.count("Successfully captured CUDA graph"), n)

    def test_export_times(self):
        f = self.path("times.json")
        self.gpu_run(f"--exportTimes={f}")
        times = load_json(f)
        self.assertGreaterEqual(len(times), 20)
        for t in times:
            self.assertAlmostEqual(t["latencyMs"], t["h2dMs"] + t["computeMs"] + t["d2hMs"], delta=1e-6)
            self.assertGreater(t["h2dMs"], 0)
            self.assertGreater(t["computeMs"], 0)
            self.assertGreaterEqual(t["startComputeMs"], t["endH2dMs"] - 1e-3, "compute began before its inputs")
            self.assertGreaterEqual(t["startD2hMs"], t["endComputeMs"] - 1e-3, "outputs copied before compute ended")
            self.assertGreaterEqual(t["endEnqMs"], t["startEnqMs"])

    def test_profile(self):
        f = self.path("profile.json")
        p = self.gpu_run("--dumpProfile", f"--exportProfile={f}")
        self.assertIn("=== Profile (", p.stdout)
        prof = load_json(f)
        self.assertGreaterEqual(prof[0]["count"], 20)
        layers = prof[1:]
        self.assertTrue(layers, "no layer in the profile")
        self.assertTrue(all(l["averageMs"] >= 0 for l in layers))
        self.assertGreater(sum(l["averageMs"] for l in layers), 0)

    # --- outputs against the CPU engine -----------------------------------
    def outputs(self, *flags):
        f = self.path("out.json")
        if os.path.exists(f):
            os.remove(f)
        run(*flags, "--iterations=2", "--warmUp=0", "--duration=0", f"--exportOutput={f}", check=True)
        return {o["name"]: np.array(o["values"], np.float64) for o in load_json(f)}

    def test_outputs_match_cpu(self):
        for model, extra in ((self.cnn, []), (self.transformer, ["--loadInputs=" + ",".join(self.transformer_inputs)])):
            want = self.outputs(f"--onnx={model}", "--device=cpu", *extra)
            for flags in ([], ["--useCudaGraph"], ["--infStreams=2", "--noDataTransfers"], ["--useSpinWait"]):
                with self.subTest(model=os.path.basename(model), flags=flags):
                    got = self.outputs(f"--onnx={model}", "--device=cuda", "--noTF32", *extra, *flags)
                    self.assertEqual(sorted(got), sorted(want))
                    for name, w in want.items():
                        g = got[name]
                        self.assertEqual(g.shape, w.shape, name)
                        bad = ~(np.abs(g - w) <= ATOL + RTOL * np.abs(w))
                        self.assertFalse(bad.any(), f"{name}: {bad.sum()} of {w.size} differ; first at "
                                                    f"{int(np.argmax(bad))}: GPU {g[bad][:1]}, CPU {w[bad][:1]}")

    def test_dump_output(self):
        out = self.gpu_run("--dumpOutput").stdout
        self.assertIn("Output Tensors:", out)
        self.assertRegex(out, r"probs: \(2x10\)")


def gpu_unavailable():
    """The reason no CUDA engine can be built here, or None."""
    p = run(f"--onnx={os.path.join(MODELS, 'small_cnn.onnx')}", "--device=cuda", "--skipInference")
    if p.returncode == 0:
        return None
    if "needs a GPU" in p.stderr or "built without CUDA" in p.stderr:
        return p.stderr.strip()
    return None  # another failure: let the tests show it


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--kilnexec", required=True)
    parser.add_argument("--models", required=True)
    args, rest = parser.parse_known_args()
    KILNEXEC = os.path.abspath(args.kilnexec)
    MODELS = os.path.abspath(args.models)
    reason = gpu_unavailable()
    if reason:
        print(f"kilnexec_gpu_test: skipped, no GPU: {reason}")
        sys.exit(77)
    unittest.main(argv=[sys.argv[0], *rest], verbosity=2)
