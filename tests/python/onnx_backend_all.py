"""Runs ONNX's whole backend node-test suite through kiln.onnx_backend and prints
the counts (not part of CI: it builds some 1,300 small engines).

    PYTHONPATH=build/python python3 tests/python/onnx_backend_all.py [--write passing.txt] [-k REGEX]

--write lists the passing tests, one a line, to compare with the C++ conformance
runner's list (tests/onnx/expected_passing.txt).
"""
import argparse
import re
import sys
import time
import unittest

import onnx.backend.test

from kiln import onnx_backend


class Result(unittest.TestResult):
    def __init__(self):
        super().__init__()
        self.passed = []

    def addSuccess(self, test):
        super().addSuccess(test)
        self.passed.append(test._testMethodName)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", help="write the names of the passing tests here")
    ap.add_argument("-v", "--verbose", action="store_true", help="print why each failing test failed")
    ap.add_argument("-k", default=r"_cpu$", help="regex of the test names to run (default: all CPU node tests)")
    args = ap.parse_args()

    backend_test = onnx.backend.test.BackendTest(onnx_backend.KilnBackend, __name__)
    suite = unittest.TestSuite()
    pattern = re.compile(args.k)
    for name, case in backend_test.test_cases.items():
        if "Node" not in name:  # the node tests; the real-model tests download data
            continue
        for attr in sorted(vars(case)):
            if attr.startswith("test_") and pattern.search(attr):
                suite.addTest(case(attr))
    result = Result()
    start = time.monotonic()
    suite.run(result)
    failed = len(result.failures) + len(result.errors)
    print(f"kiln.onnx_backend over ONNX {onnx.__version__} node tests: {time.monotonic() - start:.0f} s")
    print(f"{len(result.passed)} passed, {failed} failed, {len(result.skipped)} skipped")
    if args.verbose:
        for test, trace in result.failures + result.errors:
            print(f"FAIL {test._testMethodName}: {trace.strip().splitlines()[-1][:300]}")
    if args.write:
        with open(args.write, "w") as f:
            f.write("".join(n + "\n" for n in sorted(result.passed)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
