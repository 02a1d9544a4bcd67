#!/usr/bin/env python3
"""One peer runtime (ONNX Runtime or OpenVINO) serving timing commands for bench/run_cpu.py.

Speaks the same line protocol as kiln_time serve (see bench/kiln_time.cc): after loading it
prints {"ready": true, ...}; then on stdin `run W K`, `outputs`, `quit`, one JSON line each.
Each runtime lives in its own process so that its peak RSS is its own; `rss_start_kb` is the
RSS after Python and numpy were loaded and before the runtime was imported, so the driver can
report the runtime's share apart from the interpreter's.
  peer_worker.py --runtime ort|openvino --model m.onnx --inputs manifest.json --outdir D --threads N
                 [--precision f32|bf16|f16]   (OpenVINO's INFERENCE_PRECISION_HINT; ONNX Runtime is FP32 only)
"""
import argparse
import json
import os
import sys
import time

import numpy as np


def rss_kb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * (os.sysconf("SC_PAGE_SIZE") // 1024)


def peak_rss_kb():
    """VmHWM: unlike ru_maxrss (which Linux carries across exec from the forking driver), it is
    this process image's own peak."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def load_inputs(manifest):
    feeds = {}
    for e in json.load(open(manifest)):
        feeds[e["name"]] = np.fromfile(e["file"], dtype=np.dtype(e["numpy_dtype"])).reshape(e["dims"])
    return feeds


class Ort:
    """ONNX Runtime, CPU EP: ORT_ENABLE_ALL, intra-op threads = N, one inter-op thread, sequential.

    Outputs are bound to preallocated buffers (IOBinding), as Kiln's are, so the timed call is
    the inference and not numpy allocation."""

    def __init__(self, model, feeds, threads):
        import onnxruntime as ort
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        self.sess = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
        self.names = [o.name for o in self.sess.get_outputs()]
        first = self.sess.run(self.names, feeds)
        self.outs = [np.empty_like(o) for o in first]
        self.binding = self.sess.io_binding()
        for name, arr in feeds.items():
            self.binding.bind_cpu_input(name, arr)
        for name, arr in zip(self.names, self.outs):
            self.binding.bind_output(name, "cpu", 0, arr.dtype, list(arr.shape), arr.ctypes.data)
        self.infer()

    def infer(self):
        self.sess.run_with_iobinding(self.binding)

    def outputs(self):
        return list(zip(self.names, self.outs))


class OpenVino:
    """OpenVINO CPU plugin: PERFORMANCE_HINT=LATENCY, INFERENCE_NUM_THREADS=N and FP32 inference
    (INFERENCE_PRECISION_HINT=f32, so it is FP32 against FP32 on CPUs where it would pick BF16).
    Dynamic inputs are reshaped to the benchmark's shapes before compiling, as Kiln builds for them."""

    def __init__(self, model, feeds, threads, precision="f32"):
        import openvino as ov
        core = ov.Core()
        m = core.read_model(model)
        m.reshape({name: list(arr.shape) for name, arr in feeds.items()})
        self.compiled = core.compile_model(m, "CPU", {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": threads,
                                                      "INFERENCE_PRECISION_HINT": precision})
        self.req = self.compiled.create_infer_request()
        for name, arr in feeds.items():
            self.req.set_tensor(name, ov.Tensor(np.ascontiguousarray(arr), shared_memory=True))
        self.infer()

    def infer(self):
        self.req.infer()

    def outputs(self):
        res = []
        for i, port in enumerate(self.compiled.outputs):
            name = port.get_any_name() if port.get_names() else f"output{i}"
            res.append((name, np.array(self.req.get_output_tensor(i).data)))
        return res


def reply(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runtime", choices=["ort", "openvino"], required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--inputs", required=True)
    ap.add_argument("--outdir", required=True)
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--precision", choices=["f32", "bf16", "f16"], default="f32")
    a = ap.parse_args()
    rss_start = rss_kb()
    os.makedirs(a.outdir, exist_ok=True)
    try:
        t0 = time.perf_counter()
        feeds = load_inputs(a.inputs)
        if a.runtime == "ort":
            if a.precision != "f32":
                raise ValueError("ONNX Runtime's CPU provider runs FP32 only")
            rt = Ort(a.model, feeds, a.threads)
        else:
            rt = OpenVino(a.model, feeds, a.threads, a.precision)
        reply({"ready": True, "load_s": time.perf_counter() - t0, "rss_start_kb": rss_start, "rss_kb": rss_kb()})
    except Exception as e:  # noqa: BLE001 - any load failure is a reason to record, not a crash
        reply({"error": f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"[:300]})
        return 1
    for line in sys.stdin:
        cmd = line.split()
        if not cmd:
            continue
        if cmd[0] == "run":
            warm, iters = int(cmd[1]), int(cmd[2])
            for _ in range(warm):
                rt.infer()
            times = []
            for _ in range(iters):
                s = time.perf_counter()
                rt.infer()
                times.append((time.perf_counter() - s) * 1e3)
            reply({"times_ms": times})
        elif cmd[0] == "outputs":
            outs = []
            for i, (name, arr) in enumerate(rt.outputs()):
                f = os.path.join(a.outdir, f"out_{i}.npy")
                np.save(f, arr)
                outs.append({"name": name, "file": f, "dims": list(arr.shape), "dtype": str(arr.dtype)})
            reply({"outputs": outs})
        elif cmd[0] == "quit":
            reply({"peak_rss_kb": peak_rss_kb(), "rss_start_kb": rss_start})
            return 0
        else:
            reply({"error": f"unknown command {line.strip()!r}"})
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
