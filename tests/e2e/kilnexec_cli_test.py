#!/usr/bin/env python3
"""kilnexec command-line tests: trtexec-shaped output, JSON exports, shapes,
one-line errors, corrupt plans and the timing cache.

Run: kilnexec_cli_test.py --kilnexec path/to/kilnexec [unittest args]
Needs onnx and numpy (onnxruntime for the accuracy checks); exits 77
(reported as skipped by ctest) when onnx or numpy is missing.
"""
import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import unittest

try:
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper
except ImportError as e:  # pragma: no cover
    print(f"kilnexec_cli_test: skipped, {e} (run scripts/setup.sh)")
    sys.exit(77)
try:
    import onnxruntime as ort
except ImportError:  # pragma: no cover
    ort = None

KILNEXEC = None
NUM = r"([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)"
STATS = (rf"min = {NUM} ms, max = {NUM} ms, mean = {NUM} ms, median = {NUM} ms, "
         rf"percentile\(90%\) = {NUM} ms, percentile\(95%\) = {NUM} ms, percentile\(99%\) = {NUM} ms$")


def make_model(path, dynamic_width):
    """Conv+Relu+GlobalAveragePool+Flatten+Gemm on a 1x3x8xW input."""
    rng = np.random.default_rng(0)
    init = [numpy_helper.from_array(rng.standard_normal(s).astype(np.float32), n)
            for n, s in (("W", (4, 3, 3, 3)), ("B", (4,)), ("G", (5, 4)), ("GB", (5,)))]
    nodes = [
        helper.make_node("Conv", ["x", "W", "B"], ["c"], pads=[1, 1, 1, 1], name="conv"),
        helper.make_node("Relu", ["c"], ["r"], name="relu"),
        helper.make_node("GlobalAveragePool", ["r"], ["p"], name="gap"),
        helper.make_node("Flatten", ["p"], ["f"], name="flat"),
        helper.make_node("Gemm", ["f", "G", "GB"], ["y"], transB=1, name="fc"),
    ]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, "width" if dynamic_width else 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 5])
    model = helper.make_model(helper.make_graph(nodes, "tiny", [x], [y], init),
                              opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    onnx.save(model, path)


def run(*args, check=None):
    p = subprocess.run([KILNEXEC, *args], capture_output=True, text=True, timeout=300)
    if check is not None and (p.returncode == 0) != check:
        raise AssertionError(f"kilnexec {' '.join(args)} -> rc {p.returncode}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}")
    return p


def load_json(path):
    with open(path) as fh:
        return json.load(fh)


def read_bytes(path):
    with open(path, "rb") as fh:
        return fh.read()


def lines(text):
    return [l for l in text.splitlines() if l.strip()]


class KilnexecCli(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="kilnexec_cli_")
        cls.dir = cls.tmp.name
        cls.model = cls.path("tiny.onnx")
        cls.dyn_model = cls.path("tiny_dyn.onnx")
        make_model(cls.model, False)
        make_model(cls.dyn_model, True)
        cls.plan = cls.path("tiny.plan")
        run(f"--onnx={cls.model}", f"--saveEngine={cls.plan}", "--skipInference", check=True)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    @classmethod
    def path(cls, name):
        return os.path.join(cls.dir, name)

    def assertOneLineError(self, p, mention=None):
        """A failure that says why in exactly one line, exiting normally (no signal)."""
        self.assertGreater(p.returncode, 0, f"expected a failure exit code, got {p.returncode}\n{p.stderr}")
        self.assertLess(p.returncode, 128, "killed by a signal?")
        err = lines(p.stderr)
        self.assertEqual(len(err), 1, f"expected one error line on stderr, got:\n{p.stderr}\nstdout:\n{p.stdout}")
        self.assertNotIn("Traceback", p.stderr)
        if mention:
            self.assertIn(mention, err[0])
        return err[0]

    # --- output shape -----------------------------------------------------
    def test_summary_lines_parse(self):
        p = run(f"--loadEngine={self.plan}", "--iterations=20", "--warmUp=10", "--duration=0", check=True)
        out = p.stdout
        self.assertRegex(out, r"^&&&& RUNNING Kiln\.kilnexec .*# .*--loadEngine=", "RUNNING line")
        self.assertRegex(lines(out)[-1], r"^&&&& PASSED Kiln\.kilnexec .*# ")
        for section in ("=== Model Options ===", "=== Inference Options ===", "=== Engine ===",
                        "=== Performance summary ==="):
            self.assertIn(section, out)
        m = re.search(rf"\[I\] Throughput: {NUM} qps$", out, re.M)
        self.assertTrue(m, "Throughput line")
        self.assertGreater(float(m.group(1)), 0)
        for name in ("Latency", "Enqueue Time", "H2D Latency", "GPU Compute Time", "D2H Latency"):
            m = re.search(rf"\[I\] {name}: {STATS}", out, re.M)
            self.assertTrue(m, f"{name} line")
            mn, mx, mean, med = (float(m.group(i)) for i in range(1, 5))
            self.assertTrue(mn <= med <= mx and mn <= mean <= mx, f"{name}: {m.group(0)}")
            if name.startswith(("H2D", "D2H")):
                self.assertEqual(mx, 0.0)
        for name in ("Total Host Walltime", "Total GPU Compute Time"):
            self.assertTrue(re.search(rf"\[I\] {name}: {NUM} s$", out, re.M), f"{name} line")
        self.assertIn("compute ran on the CPU", out)
        self.assertRegex(out, r"Timing trace has 20 queries over")
        self.assertRegex(out, r"Plan size: \d+ bytes")
        self.assertRegex(out, r"Input  'x': float32 1x3x8x8")
        self.assertRegex(out, r"Output 'y': float32 1x5")

    def test_percentiles_and_avg_runs(self):
        p = run(f"--loadEngine={self.plan}", "--iterations=12", "--warmUp=0", "--duration=0",
                "--percentile=50,99.9", "--avgRuns=4", check=True)
        self.assertRegex(p.stdout, r"percentile\(50%\) = .* ms, percentile\(99\.9%\) = .* ms\n")
        self.assertEqual(len(re.findall(r"Average on 4 runs - GPU latency", p.stdout)), 3)

    def test_duration_extends_iterations(self):
        p = run(f"--loadEngine={self.plan}", "--iterations=1", "--warmUp=0", "--duration=0.2", check=True)
        m = re.search(rf"Timing trace has (\d+) queries over {NUM} s", p.stdout)
        self.assertGreater(int(m.group(1)), 1)
        self.assertGreaterEqual(float(m.group(2)), 0.15)

    # --- exports ----------------------------------------------------------
    def test_export_times_profile_layerinfo(self):
        times, prof, info = self.path("times.json"), self.path("prof.json"), self.path("info.json")
        p = run(f"--loadEngine={self.plan}", "--iterations=15", "--warmUp=0", "--duration=0",
                f"--exportTimes={times}", f"--exportProfile={prof}", f"--exportLayerInfo={info}",
                "--dumpProfile", "--separateProfileRun", check=True)
        t = load_json(times)
        self.assertEqual(len(t), 15)
        for k in ("startComputeMs", "endComputeMs", "computeMs", "latencyMs", "h2dMs", "d2hMs", "startEnqMs"):
            self.assertIn(k, t[0])
        self.assertAlmostEqual(t[0]["endComputeMs"] - t[0]["startComputeMs"], t[0]["computeMs"], places=6)
        self.assertTrue(all(a["endComputeMs"] <= b["startComputeMs"] for a, b in zip(t, t[1:])))
        pr = load_json(prof)
        self.assertEqual(pr[0], {"count": 15})
        self.assertGreaterEqual(len(pr), 2)
        for layer in pr[1:]:
            self.assertEqual(set(layer), {"name", "timeMs", "averageMs", "medianMs", "percentage"})
        self.assertAlmostEqual(sum(l["percentage"] for l in pr[1:]), 100.0, places=3)
        li = load_json(info)
        self.assertEqual(li["Bindings"], ["x", "y"])
        self.assertGreaterEqual(len(li["Layers"]), 1)
        self.assertIn("=== Profile (15 iterations ) ===", p.stdout)

    def check_against_ort(self, model, plan_args, shape, seed):
        x = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
        xbin, out = self.path(f"x{seed}.bin"), self.path(f"out{seed}.json")
        x.tofile(xbin)
        run(*plan_args, f"--loadInputs=x:{xbin}", f"--exportOutput={out}", "--iterations=1", "--warmUp=0",
            "--duration=0", check=True)
        exported = load_json(out)
        self.assertEqual([o["name"] for o in exported], ["y"])
        self.assertEqual(exported[0]["dimensions"], "1x5")
        got = np.array(exported[0]["values"], dtype=np.float64).reshape(1, 5)
        if ort is None:
            self.skipTest("onnxruntime is not installed")
        want = ort.InferenceSession(model, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
        scale = max(float(want.max() - want.min()), 1e-6)
        np.testing.assert_array_less(np.abs(got - want) / scale, 1e-4)

    def test_export_output_matches_onnxruntime(self):
        self.check_against_ort(self.model, [f"--loadEngine={self.plan}"], (1, 3, 8, 8), seed=1)

    def test_dynamic_shapes(self):
        plan = self.path("dyn.plan")
        p = run(f"--onnx={self.dyn_model}", "--skipInference")
        self.assertOneLineError(p, "--shapes")
        run(f"--onnx={self.dyn_model}", "--shapes=x:1x3x8x13", f"--saveEngine={plan}", "--skipInference",
            check=True)
        self.check_against_ort(self.dyn_model, [f"--loadEngine={plan}", "--shapes=x:1x3x8x13"], (1, 3, 8, 13), 2)
        self.check_against_ort(self.dyn_model, [f"--onnx={self.dyn_model}", "--shapes='x':1x3x8x5"], (1, 3, 8, 5), 3)
        # A fixed dimension that disagrees, and an input the model lacks.
        self.assertOneLineError(run(f"--onnx={self.dyn_model}", "--shapes=x:2x3x8x13"), "dimension 0")
        self.assertOneLineError(run(f"--onnx={self.dyn_model}", "--shapes=x:1x3x8x4,nope:1x2"), "nope")

    def test_shape_range_and_profile(self):
        plan = self.path("range.plan")
        run(f"--onnx={self.dyn_model}", "--minShapes=x:1x3x8x4", "--optShapes=x:1x3x8x9", "--maxShapes=x:1x3x8x20",
            f"--saveEngine={plan}", "--skipInference", check=True)
        # One engine, any width in the range; without --shapes the profile's opt shape runs.
        for width in (4, 11, 20):
            self.check_against_ort(self.dyn_model, [f"--loadEngine={plan}", f"--shapes=x:1x3x8x{width}"],
                                   (1, 3, 8, width), width)
        p = run(f"--loadEngine={plan}", "--iterations=2", "--warmUp=0", "--duration=0", check=True)
        self.assertIn("Shapes used for inference: x:1x3x8x9", p.stdout)
        self.assertOneLineError(run(f"--loadEngine={plan}", "--shapes=x:1x3x8x21"), "outside optimization profile")
        self.assertOneLineError(run(f"--loadEngine={plan}", "--profile=1"), "--profile=1")

    def test_several_profiles(self):
        # trtexec's rule: each --minShapes/--optShapes/--maxShapes group is one profile.
        plan = self.path("two_profiles.plan")
        p = run(f"--onnx={self.dyn_model}",
                "--minShapes=x:1x3x8x4", "--optShapes=x:1x3x8x6", "--maxShapes=x:1x3x8x8",
                "--minShapes=x:1x3x8x16", "--optShapes=x:1x3x8x24", "--maxShapes=x:1x3x8x32",
                f"--saveEngine={plan}", "--skipInference", check=True)
        self.assertIn("Input build shapes (profile 1): min x:1x3x8x16; opt x:1x3x8x24; max x:1x3x8x32", p.stdout)
        # Each profile runs its own range, checked against ONNX Runtime; without --shapes a profile's opt runs.
        for profile, width in ((0, 5), (0, 8), (1, 16), (1, 31)):
            with self.subTest(profile=profile, width=width):
                self.check_against_ort(self.dyn_model, [f"--loadEngine={plan}", f"--profile={profile}",
                                                        f"--shapes=x:1x3x8x{width}"], (1, 3, 8, width), width)
        p = run(f"--loadEngine={plan}", "--profile=1", "--iterations=2", "--warmUp=0", "--duration=0", check=True)
        self.assertIn("Shapes used for inference: x:1x3x8x24", p.stdout)
        # A width of the other profile's range is outside this one's.
        self.assertOneLineError(run(f"--loadEngine={plan}", "--profile=0", "--shapes=x:1x3x8x16"),
                                "outside optimization profile 0")
        self.assertOneLineError(run(f"--loadEngine={plan}", "--profile=2"), "--profile=2")
        # At build time: --profile must name a profile of the command line, and the groups must be complete.
        self.assertOneLineError(run(f"--onnx={self.dyn_model}", "--minShapes=x:1x3x8x4", "--maxShapes=x:1x3x8x8",
                                    "--minShapes=x:1x3x8x16", "--maxShapes=x:1x3x8x32", "--profile=2",
                                    "--skipInference"), "--profile=2")
        self.assertOneLineError(run(f"--onnx={self.dyn_model}", "--minShapes=x:1x3x8x4", "--maxShapes=x:1x3x8x8",
                                    "--maxShapes=x:1x3x8x32", "--skipInference"), "once per profile")
        # Built and run in one command, with the second profile.
        self.check_against_ort(self.dyn_model, [f"--onnx={self.dyn_model}",
                                                "--minShapes=x:1x3x8x4", "--maxShapes=x:1x3x8x8",
                                                "--minShapes=x:1x3x8x16", "--maxShapes=x:1x3x8x32",
                                                "--profile=1", "--shapes=x:1x3x8x20"], (1, 3, 8, 20), 7)

    def test_data_dependent_output(self):
        # NonZero's output size depends on the data: kilnexec sizes it per run (an IOutputAllocator).
        model, xbin, out = self.path("nonzero.onnx"), self.path("nz_x.bin"), self.path("nz_out.json")
        node = helper.make_node("NonZero", ["x"], ["idx"], name="nz")
        graph = helper.make_graph([node], "nz", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 4])],
                                  [helper.make_tensor_value_info("idx", TensorProto.INT64, None)])
        onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), model)
        x = np.array([[0, 1, 0, 2], [0, 0, 0, 0], [3, 0, 4, 0]], np.float32)
        x.tofile(xbin)
        run(f"--onnx={model}", f"--loadInputs=x:{xbin}", f"--exportOutput={out}", "--iterations=2", "--warmUp=0",
            "--duration=0", check=True)
        exported = load_json(out)
        self.assertEqual(exported[0]["dimensions"], "2x4")
        np.testing.assert_array_equal(np.array(exported[0]["values"]).reshape(2, 4), np.array(np.nonzero(x)))

    def test_load_inputs_size_mismatch(self):
        bad = self.path("bad.bin")
        np.zeros(10, np.float32).tofile(bad)
        err = self.assertOneLineError(run(f"--loadEngine={self.plan}", f"--loadInputs=x:{bad}"))
        self.assertIn("'x'", err)
        self.assertIn("768", err)
        self.assertIn("40", err)

    # --- one-line errors --------------------------------------------------
    def test_unknown_flag(self):
        p = run(f"--onnx={self.model}", "--foo=1")
        self.assertEqual(self.assertOneLineError(p, "--foo"), "kilnexec: error: unknown option '--foo' (see --help)")
        self.assertEqual(p.stdout, "")

    def test_bad_values(self):
        for args, flag in ((["--iterations=abc"], "--iterations"), (["--warmUp=-3"], "--warmUp"),
                           (["--shapes=x:1xax3"], "--shapes"), (["--memPoolSize=workspace:lots"], "--memPoolSize"),
                           (["--percentile=101"], "--percentile"), (["--fp16=maybe"], "--fp16"),
                           (["--device=tpu"], "--device"), (["--threads=-1"], "--threads"),
                           (["--loadInputs=x"], "--loadInputs"), (["--tacticSources=ONEDNN"], "--tacticSources"),
                           (["--tacticSources=-MKL"], "--tacticSources"),
                           (["--precisionConstraints=always"], "--precisionConstraints"),
                           (["--layerPrecisions=conv:fp17"], "--layerPrecisions"),
                           (["--layerPrecisions=fp16"], "--layerPrecisions"),
                           (["--layerOutputTypes=conv:fp16+int4"], "--layerOutputTypes")):
            with self.subTest(args=args):
                p = run(f"--onnx={self.model}", *args)
                self.assertOneLineError(p, flag)
                self.assertEqual(p.stdout, "")

    def test_missing_files(self):
        for flag in ("--onnx", "--loadEngine"):
            with self.subTest(flag=flag):
                missing = self.path("does_not_exist.bin")
                self.assertOneLineError(run(f"{flag}={missing}"), missing)
        missing = self.path("no_input.bin")
        self.assertOneLineError(run(f"--loadEngine={self.plan}", f"--loadInputs=x:{missing}"), missing)
        self.assertOneLineError(run(), "--onnx")

    def test_cuda_device(self):
        # No GPU on the test machines: building for CUDA fails with the reason, in one line.
        self.assertOneLineError(run(f"--onnx={self.model}", "--device=cuda"), "building a CUDA engine needs a GPU")
        self.assertOneLineError(run(f"--onnx={self.model}", "--device=0"), "Kiln names devices")
        self.assertOneLineError(run(f"--onnx={self.model}", "--streams=2"), "--device=cuda")
        self.assertOneLineError(run(f"--onnx={self.model}", "--streams=0"), "--streams")
        self.assertOneLineError(run(f"--onnx={self.model}", "--infStreams=2"), "--device=cuda")
        self.assertOneLineError(run(f"--onnx={self.model}", "--infStreams=x"), "--infStreams")
        self.assertOneLineError(run(f"--onnx={self.model}", "--device=cuda", "--infStreams=2", "--streams=3"),
                                "disagree")
        # A CPU plan is not a CUDA engine.
        self.assertOneLineError(run(f"--loadEngine={self.plan}", "--device=cuda"), "give --device=cpu")

    def test_help(self):
        p = run("--help", check=True)
        self.assertIn("--loadEngine", p.stdout)
        self.assertIn("--timingCacheFile", p.stdout)

    # --- corrupt plans ----------------------------------------------------
    def test_corrupt_plans(self):
        data = read_bytes(self.plan)
        flipped = bytearray(data)
        for i in range(len(flipped) // 2, len(flipped), 97):
            flipped[i] ^= 0x5A
        rnd = random.Random(7)
        cases = {
            "empty": b"",
            "truncated": data[: len(data) // 2],
            "header_only": data[:16],
            "bitflip": bytes(flipped),
            "single_bitflip": data[:len(data) - 9] + bytes([data[-9] ^ 1]) + data[len(data) - 8:],
            "magic": b"NOPE" + data[4:],
            "garbage": bytes(rnd.getrandbits(8) for _ in range(4096)),
            "onnx_as_plan": read_bytes(self.model),
        }
        for name, blob in cases.items():
            with self.subTest(case=name):
                f = self.path(f"corrupt_{name}.plan")
                with open(f, "wb") as fh:
                    fh.write(blob)
                p = run(f"--loadEngine={f}")
                self.assertOneLineError(p)
                self.assertIn("[E]", p.stderr)
                self.assertRegex(lines(p.stdout)[-1], r"^&&&& FAILED Kiln\.kilnexec")

    # --- build options ----------------------------------------------------
    def test_timing_cache_reused(self):
        cache = self.path("timing.cache")
        first = run(f"--onnx={self.model}", f"--timingCacheFile={cache}", "--skipInference", "--verbose", check=True)
        self.assertTrue(os.path.getsize(cache) > 0)
        m1 = re.search(r"\((\d+) timed, (\d+) from the timing cache\)", first.stdout)
        self.assertTrue(m1, first.stdout)
        timed = int(m1.group(1))
        second = run(f"--onnx={self.model}", f"--timingCacheFile={cache}", "--skipInference", check=True)
        m2 = re.search(r"\((\d+) timed, (\d+) from the timing cache\)", second.stdout)
        self.assertTrue(m2, second.stdout)
        self.assertEqual(int(m2.group(1)), 0, "second build timed tactics again")
        self.assertEqual(int(m2.group(2)), timed + int(m1.group(2)))
        self.assertIn("Loaded timing cache", second.stdout)

    def test_bad_timing_cache(self):
        cache = self.path("bad.cache")
        with open(cache, "w") as fh:
            fh.write("not a cache")
        self.assertOneLineError(run(f"--onnx={self.model}", f"--timingCacheFile={cache}", "--skipInference"))

    def test_verbose_names_unsupported_nodes(self):
        """--verbose after a failed parse lists every node Kiln cannot import and the graph's runs."""
        model = self.path("unsupported.onnx")
        nodes = [
            helper.make_node("Relu", ["x"], ["a"], name="relu"),
            helper.make_node("NoSuchOp", ["a"], ["b"], name="mystery"),
            helper.make_node("Sigmoid", ["b"], ["y"], name="sig"),
            helper.make_node("AlsoMissing", ["x"], ["w"], name="other"),
        ]
        f = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [2, 3]) for n in ("x", "y", "w")]
        onnx.save(helper.make_model(helper.make_graph(nodes, "unsupported", [f[0]], f[1:]),
                                    opset_imports=[helper.make_opsetid("", 17)]), model)
        p = run(f"--onnx={model}", "--skipInference", "--verbose", check=False)
        self.assertGreater(p.returncode, 0)
        self.assertLess(p.returncode, 128)
        self.assertIn("ONNX parser: 2 node(s) not supported, 0 other error(s):", p.stderr)
        self.assertRegex(p.stderr, r"\[E\] In node 1 with name: mystery and operator: NoSuchOp: .*no importer for this op")
        self.assertRegex(p.stderr, r"\[E\] In node 3 with name: other and operator: AlsoMissing: .*no importer")
        self.assertIn("4 subgraphs in topological order: nodes 0 (supported); nodes 1 (unsupported); "
                      "nodes 2 (supported); nodes 3 (unsupported)", p.stdout)
        self.assertRegex(lines(p.stdout)[-1], r"^&&&& FAILED Kiln\.kilnexec")
        # Without --verbose the first failure stays a one-line error.
        self.assertOneLineError(run(f"--onnx={model}", "--skipInference"), "NoSuchOp")

    def test_layer_precisions(self):
        # The CPU has FP16 kernels only for Conv / MatMul / Gemm: obeyed FP16 on every layer fails naming one, preferred builds FP32;
        # an unknown layer name is an error naming it.
        self.assertOneLineError(run(f"--onnx={self.model}", "--precisionConstraints=obey", "--layerPrecisions=*:fp16",
                                    "--layerOutputTypes=*:fp16"), "precision constraint not met")
        run(f"--onnx={self.model}", "--precisionConstraints=prefer", "--layerPrecisions=*:fp16",
            "--layerOutputTypes=*:fp16", "--iterations=1", "--warmUp=0", "--duration=0", check=True)
        self.assertOneLineError(run(f"--onnx={self.model}", "--precisionConstraints=prefer",
                                    "--layerPrecisions=no_such_layer:fp16"), "no layer named 'no_such_layer'")
        p = run(f"--onnx={self.model}", "--layerPrecisions=*:fp32", "--iterations=1", "--warmUp=0", "--duration=0",
                check=True)
        self.assertIn("no effect without --precisionConstraints", p.stdout + p.stderr)

    def test_accepted_flags(self):
        p = run(f"--onnx={self.model}", "--fp16", "--int8", "--memPoolSize=workspace:64M", "--workspace=32",
                "--threads=1", "--noDataTransfers", "--useCudaGraph", "--useSpinWait", "--iterations=2",
                "--warmUp=0", "--duration=0", "--verbose", "--dumpOutput", "--dumpLayerInfo",
                "--tacticSources=-ONEDNN,+CUDNN", check=True)
        self.assertIn("[V]", p.stdout)
        self.assertNotIn(".onednn", p.stdout)  # no layer took a oneDNN tactic
        self.assertIn("Output Tensors:", p.stdout)
        self.assertIn("no effect on the CPU", p.stdout)

    def test_bf16(self):
        # Where oneDNN runs BF16 natively, --bf16 builds and runs (BF16 tactics are candidates; which
        # wins is timing's call). With oneDNN held below AVX512_BF16 the flag builds FP32 with a warning.
        p = run(f"--onnx={self.model}", "--bf16", "--iterations=2", "--warmUp=0", "--duration=0", check=True)
        self.assertIn("Precision: FP32+BF16", p.stdout)
        env = dict(os.environ, DNNL_MAX_CPU_ISA="AVX512_CORE")
        q = subprocess.run([KILNEXEC, f"--onnx={self.model}", "--bf16", "--iterations=2", "--warmUp=0", "--duration=0",
                            "--verbose"], capture_output=True, text=True, timeout=300, env=env)
        self.assertEqual(q.returncode, 0, q.stdout + q.stderr)
        self.assertIn("BF16 not supported natively on this platform", q.stdout + q.stderr)
        self.assertNotIn("_bf16", q.stdout)  # no layer took a BF16 tactic


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--kilnexec", required=True)
    args, rest = parser.parse_known_args()
    KILNEXEC = os.path.abspath(args.kilnexec)
    unittest.main(argv=[sys.argv[0], *rest], verbosity=2)
