#!/usr/bin/env python3
"""kilnexec with plugin libraries (--plugins, --staticPlugins, --dynamicPlugins,
--setPluginsToSerialize) on examples/plugins/custom_swish.onnx, whose
CustomSwish node comes from the example plugin library.

Run: kilnexec_plugins_test.py --kilnexec path/to/kilnexec --plugin-lib libkiln_example_plugins.so
         --model examples/plugins/custom_swish.onnx [unittest args]
Needs numpy (exit 77, reported as skipped by ctest, without it).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import unittest

try:
    import numpy as np
except ImportError as e:  # pragma: no cover
    print(f"kilnexec_plugins_test: skipped, {e} (run scripts/setup.sh)")
    sys.exit(77)

KILNEXEC = LIB = MODEL = None
FAST = ["--iterations=1", "--warmUp=0", "--duration=0", "--avgRuns=1"]


def run(*args, ok):
    p = subprocess.run([KILNEXEC, *args], capture_output=True, text=True, timeout=120)
    if (p.returncode == 0) != ok:
        raise AssertionError(f"kilnexec {' '.join(args)} -> rc {p.returncode}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}")
    return p


class KilnexecPlugins(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)

    def path(self, name):
        return os.path.join(self.tmp.name, name)

    def test_without_the_library_the_error_says_a_plugin_can_provide_the_op(self):
        p = run(f"--onnx={MODEL}", *FAST, ok=False)
        self.assertIn('no plugin "CustomSwish" (version "1", namespace "") is registered', p.stderr)
        self.assertIn("--plugins=lib.so", p.stderr)

    def test_plugins_flag_runs_the_model_right(self):
        x = np.linspace(-3, 3, 120, dtype=np.float32).reshape(2, 3, 4, 5)
        x.tofile(self.path("x.bin"))
        out = self.path("out.json")
        p = run(f"--onnx={MODEL}", f"--plugins={LIB}", f"--loadInputs=x:{self.path('x.bin')}",
                f"--exportOutput={out}", *FAST, ok=True)
        self.assertIn(f"Loading supplied plugin library: {LIB}", p.stdout)
        with open(out) as fh:
            exported = json.load(fh)
        y = np.array(exported[0]["values"], dtype=np.float32).reshape(2, 3, 4, 5)
        s = 2 * x
        np.testing.assert_allclose(y, s / (1 + np.exp(-1.5 * s)) + 0.5, rtol=1e-5, atol=1e-5)

    def test_a_saved_plan_needs_the_library_again(self):
        plan = self.path("swish.plan")
        run(f"--onnx={MODEL}", f"--staticPlugins={LIB}", f"--saveEngine={plan}", "--skipInference", ok=True)
        p = run(f"--loadEngine={plan}", *FAST, ok=False)
        self.assertIn('plugin "CustomSwish" (version "1", namespace "") is not registered', p.stderr)
        run(f"--loadEngine={plan}", f"--dynamicPlugins={LIB}", *FAST, ok=True)

    def test_set_plugins_to_serialize_embeds_the_library_in_the_plan(self):
        plan = self.path("swish_embedded.plan")
        p = run(f"--onnx={MODEL}", f"--dynamicPlugins={LIB}", f"--setPluginsToSerialize={LIB}",
                f"--saveEngine={plan}", "--skipInference", ok=True)
        self.assertIn(f"Serializing plugin library into the engine: {LIB}", p.stdout)
        # The plan runs without the library being given again, and right.
        x = np.linspace(-2, 2, 120, dtype=np.float32).reshape(2, 3, 4, 5)
        x.tofile(self.path("x.bin"))
        out = self.path("out.json")
        run(f"--loadEngine={plan}", f"--loadInputs=x:{self.path('x.bin')}", f"--exportOutput={out}", *FAST, ok=True)
        with open(out) as fh:
            y = np.array(json.load(fh)[0]["values"], dtype=np.float32).reshape(2, 3, 4, 5)
        s = 2 * x
        np.testing.assert_allclose(y, s / (1 + np.exp(-1.5 * s)) + 0.5, rtol=1e-5, atol=1e-5)
        # Loading the library as well is fine: the plan's copy is then not needed.
        run(f"--loadEngine={plan}", f"--dynamicPlugins={LIB}", *FAST, ok=True)
        p = run(f"--onnx={MODEL}", f"--setPluginsToSerialize={LIB}", ok=False)
        self.assertIn("must also be given with --dynamicPlugins", p.stderr)

    def test_bad_library_paths_are_one_line_errors(self):
        p = run(f"--onnx={MODEL}", "--plugins=/no/such/lib.so", ok=False)
        self.assertIn("no such file '/no/such/lib.so'", p.stderr)
        p = run(f"--onnx={MODEL}", f"--plugins={MODEL}", *FAST, ok=False)  # a file that is no library
        self.assertIn(f'cannot load plugin library "{MODEL}"', p.stderr)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--kilnexec", required=True)
    parser.add_argument("--plugin-lib", required=True)
    parser.add_argument("--model", required=True)
    args, rest = parser.parse_known_args()
    KILNEXEC, LIB, MODEL = os.path.abspath(args.kilnexec), os.path.abspath(args.plugin_lib), os.path.abspath(args.model)
    unittest.main(argv=[sys.argv[0], *rest])
