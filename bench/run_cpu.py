#!/usr/bin/env python3
"""CPU benchmark: Kiln vs ONNX Runtime vs OpenVINO, side by side, in one run (issue #6).

For each model and each thread count N, the three runtimes are served by their own processes
(bench/kiln_time.cc serve, bench/peer_worker.py) with the same input bytes; the timed runs are
interleaved round by round (each round every runtime does 1 warm-up run and its share of the
timed runs, in a rotating order), so that drift in the machine's load hits all of them alike.
Kiln builds each model once (cold, then again with the warm timing cache; the warm plan is
timed). Every output is checked against ONNX Runtime's: max |err| <= 1e-3 x the range of the
reference output, else the row is INVALID. FLOPs are 2 x the MACs of Conv/Gemm/MatMul (flops.py),
compared with the FMA peak that kiln_peak_flops measures.

  python3 bench/run_cpu.py --kiln-time build/bench/kiln_time --peak-flops build/bench/kiln_peak_flops \\
      --kilnexec build/tools/kilnexec/kilnexec --doc docs/benchmarks.md
  --quick: 10 timed runs, no batch-8 rows.  --smoke: tiny models, a few runs, checks the harness (ctest).
  --bf16: also Kiln built with --bf16 and OpenVINO with INFERENCE_PRECISION_HINT=bf16 (columns kiln_bf16,
  openvino_bf16), their outputs checked against ONNX Runtime's FP32 at 2e-2 of the range.
  --fp16: the same for Kiln --fp16 and OpenVINO f16 (kiln_fp16, openvino_fp16).
"""
import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

RUNTIMES = ("kiln", "ort", "openvino")
PRETTY = {"kiln": "Kiln", "ort": "ONNX Runtime", "openvino": "OpenVINO", "kiln_bf16": "Kiln BF16",
          "openvino_bf16": "OpenVINO BF16", "kiln_fp16": "Kiln FP16", "openvino_fp16": "OpenVINO FP16"}
TOLERANCE = 1e-3  # max |err| as a fraction of the reference output's range
BF16_TOLERANCE = 2e-2  # the same for the BF16 and FP16 runtimes (issue #6's bound for reduced precision)
# Reduced precisions: suffix -> OpenVINO's INFERENCE_PRECISION_HINT (Kiln: --bf16 / --fp16).
REDUCED = {"bf16": "bf16", "fp16": "f16"}
BF16_RUNTIMES = tuple(f"{rt}_{p}" for p in REDUCED for rt in ("kiln", "openvino"))  # checked at BF16_TOLERANCE
KILN_RUNTIMES = ("kiln",) + tuple(f"kiln_{p}" for p in REDUCED)


def precision_of(rt):
    """'bf16' / 'fp16' for a reduced-precision runtime, None for FP32."""
    suffix = rt.rpartition("_")[2]
    return suffix if suffix in REDUCED and rt != suffix else None

# name: (label, maker command (argv after python) or a fixed path, static shapes for dynamic inputs, batch)
MODELS = {
    "resnet50": ("ResNet-50", ["bench/models/make_resnet.py", "--depth", "50", "--batch", "1"], {}, 1),
    "bert_base": ("BERT-base (seq 128)", ["bench/models/make_bert.py", "--layers", "12"], {}, 1),
    "distilbert": ("DistilBERT (seq 128)", ["bench/models/make_bert.py", "--layers", "6"], {}, 1),
    "crnn_ocr": ("CRNN OCR 1x3x32x448", "examples/ocr_dynamic_width/crnn_dynamic_width.onnx",
                 {"input": [1, 3, 32, 448]}, 1),
    "yolo": ("YOLO-style CSP/C2f 640", ["bench/models/make_yolo.py", "--batch", "1"], {}, 1),
    "resnet50_b8": ("ResNet-50", ["bench/models/make_resnet.py", "--depth", "50", "--batch", "8"], {}, 8),
    "yolo_b8": ("YOLO-style CSP/C2f 640", ["bench/models/make_yolo.py", "--batch", "8"], {}, 8),
    "distilbert_b8": ("DistilBERT (seq 128)", ["bench/models/make_bert.py", "--layers", "6", "--batch", "8"], {}, 8),
    "bert_base_b8": ("BERT-base (seq 128)", ["bench/models/make_bert.py", "--layers", "12", "--batch", "8"], {}, 8),
    "mobilenet_v2": ("MobileNetV2", ["bench/models/export_torchvision.py", "--model", "mobilenet_v2", "--batch", "1"],
                     {}, 1),
    "efficientnet_b0": ("EfficientNet-B0", ["bench/models/export_torchvision.py", "--model", "efficientnet_b0",
                                            "--batch", "1"], {}, 1),
    "vit_b_16": ("ViT-B/16", ["bench/models/export_torchvision.py", "--model", "vit_b_16", "--batch", "1"], {}, 1),
    "mobilenet_v2_b8": ("MobileNetV2", ["bench/models/export_torchvision.py", "--model", "mobilenet_v2", "--batch",
                                        "8"], {}, 8),
    "efficientnet_b0_b8": ("EfficientNet-B0", ["bench/models/export_torchvision.py", "--model", "efficientnet_b0",
                                               "--batch", "8"], {}, 8),
    "vit_b_16_b8": ("ViT-B/16", ["bench/models/export_torchvision.py", "--model", "vit_b_16", "--batch", "8"], {}, 8),
    # --smoke: the committed test models
    "small_cnn": ("small_cnn (tests/models)", "tests/models/small_cnn.onnx", {}, 2),
    "small_transformer": ("small_transformer (tests/models)", "tests/models/small_transformer.onnx", {}, 2),
}
DEFAULT_MODELS = ["resnet50", "bert_base", "distilbert", "crnn_ocr", "yolo",
                  "resnet50_b8", "bert_base_b8", "distilbert_b8", "yolo_b8"]
SMOKE_MODELS = ["small_cnn", "small_transformer"]
# The torchvision models need PyTorch to export them (bench/models/export_torchvision.py).
TORCH_MODELS = {"mobilenet_v2": "MobileNetV2", "efficientnet_b0": "EfficientNet-B0", "vit_b_16": "ViT-B/16"}
if importlib.util.find_spec("torch") and importlib.util.find_spec("torchvision"):  # found, not imported
    NOT_RUN = {}
    DEFAULT_MODELS[5:5] = list(TORCH_MODELS)  # batch 1 rows before the batch-8 ones
    DEFAULT_MODELS += [m + "_b8" for m in TORCH_MODELS]
else:
    NOT_RUN = {label: "needs PyTorch + torchvision to export it (bench/models/export_torchvision.py)"
               for label in TORCH_MODELS.values()}
TRANSFORMERS = {"bert_base", "distilbert", "bert_base_b8", "distilbert_b8", "vit_b_16", "vit_b_16_b8",
                "small_transformer"}


def log(*a):
    print("[bench]", *a, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- models, inputs

def model_path(name, workdir):
    _, maker, _, _ = MODELS[name]
    if isinstance(maker, str):
        return os.path.join(ROOT, maker)
    path = os.path.join(workdir, "models", name + ".onnx")
    if not os.path.exists(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        log(f"generating {name}: {' '.join(maker)}")
        subprocess.run([sys.executable, os.path.join(ROOT, maker[0])] + maker[1:] + ["--out", path + ".tmp"],
                       check=True, stdout=subprocess.DEVNULL)
        os.replace(path + ".tmp", path)
    return path


def make_inputs(path, shapes, outdir, seed=1234):
    """Writes one raw file per input (the same bytes for every runtime) and a manifest."""
    import onnx
    from onnx import helper
    model = onnx.load(path, load_external_data=False)
    inits = {i.name for i in model.graph.initializer}
    rng = np.random.default_rng(seed)
    vocab = 100
    for node in model.graph.node:  # token ids must index the embedding table
        if node.op_type == "Gather" and node.input[0] in inits:
            for i in model.graph.initializer:
                if i.name == node.input[0]:
                    vocab = i.dims[0]
            break
    manifest, feeds = [], {}
    for inp in model.graph.input:
        if inp.name in inits:
            continue
        t = inp.type.tensor_type
        dims = shapes.get(inp.name) or [d.dim_value for d in t.shape.dim]
        dtype = helper.tensor_dtype_to_np_dtype(t.elem_type)
        if np.issubdtype(dtype, np.floating):
            arr = rng.uniform(-1, 1, dims).astype(dtype)
        elif "mask" in inp.name:
            arr = np.ones(dims, dtype)
            arr[..., -max(1, dims[-1] // 8):] = 0  # some padding, so the mask matters
        else:
            arr = rng.integers(0, vocab, dims).astype(dtype)
        f = os.path.join(outdir, f"in_{len(manifest)}.bin")
        arr.tofile(f)
        manifest.append({"name": inp.name, "file": f, "dims": list(arr.shape), "numpy_dtype": arr.dtype.str})
        feeds[inp.name] = arr
    mf = os.path.join(outdir, "inputs.json")
    json.dump(manifest, open(mf, "w"))
    return mf, feeds


# ----------------------------------------------------------------------------- workers

class Worker:
    """A runtime serving `run W K` / `outputs` / `quit` on its stdin (kiln_time serve, peer_worker.py)."""

    def __init__(self, runtime, argv, outdir):
        self.runtime, self.outdir, self.error, self.ready = runtime, outdir, None, None
        self.times, self.outputs, self.final = [], None, {}
        os.makedirs(outdir, exist_ok=True)
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, bufsize=1)
        msg = self._read()
        if msg is not None and msg.get("ready"):
            self.ready = msg
        else:
            self.error = (msg or {}).get("error") or self._stderr_tail() or "worker exited before it was ready"
            self._kill()

    def _stderr_tail(self):
        try:
            err = self.proc.stderr.read() if self.proc.poll() is not None else ""
        except Exception:  # noqa: BLE001
            err = ""
        lines = [ln for ln in (err or "").strip().splitlines() if ln.strip()]
        return lines[-1][:300] if lines else ""

    def _read(self):
        line = self.proc.stdout.readline()
        if not line:
            return None
        try:
            return json.loads(line)
        except json.JSONDecodeError:
            return {"error": "bad reply: " + line.strip()[:200]}

    def _cmd(self, text):
        if self.error:
            return None
        try:
            self.proc.stdin.write(text + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            pass
        msg = self._read()
        if msg is None or "error" in msg:
            self.error = (msg or {}).get("error") or self._stderr_tail() or f"worker died during '{text}'"
            self._kill()
            return None
        return msg

    def run(self, warm, iters):
        msg = self._cmd(f"run {warm} {iters}")
        if msg:
            self.times += msg["times_ms"]

    def fetch_outputs(self):
        msg = self._cmd("outputs")
        if not msg:
            return
        outs = []
        for o in msg["outputs"]:
            if o["file"].endswith(".npy"):
                arr = np.load(o["file"])
            else:
                arr = np.fromfile(o["file"], dtype=np.dtype("bool" if o["dtype"] == "bool" else o["dtype"]))
                arr = arr.reshape(o["dims"])
            outs.append((o["name"], arr))
        self.outputs = outs

    def quit(self):
        msg = self._cmd("quit")
        if msg:
            self.final = msg
        self._kill()

    def _kill(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
                self.proc.wait(timeout=30)
            except Exception:  # noqa: BLE001
                self.proc.kill()
                self.proc.wait()


def start_workers(args, name, path, plans, manifest, threads, runtimes, workdir):
    """`plans`: Kiln's plan path (or its build's failure, a dict) per Kiln runtime (kiln, kiln_bf16, kiln_fp16)."""
    workers = {}
    for rt in runtimes:
        outdir = os.path.join(workdir, "out", f"{name}_t{threads}_{rt}")
        if rt in KILN_RUNTIMES:
            plan = plans[rt]
            if isinstance(plan, dict):  # the build failed: its reason
                workers[rt] = plan
                continue
            argv = [args.kiln_time, "serve", f"--plan={plan}", f"--inputs={manifest}", f"--outdir={outdir}",
                    f"--threads={threads}"]
        else:
            prec = precision_of(rt)
            argv = [sys.executable, os.path.join(HERE, "peer_worker.py"), "--runtime", rt.split("_")[0],
                    "--model", path, "--inputs", manifest, "--outdir", outdir, "--threads", str(threads),
                    "--precision", REDUCED[prec] if prec else "f32"]
        w = Worker(rt, argv, outdir)
        workers[rt] = w if not w.error else {"error": w.error}
        if w.error:
            log(f"{name} t{threads}: {rt} n/a: {w.error}")
    return workers


# ----------------------------------------------------------------------------- checks, stats

def validate(ref, got, tolerance=TOLERANCE):
    """(ok, worst err/range): each output of `got` vs the reference's of the same name (else index)."""
    if got is None or ref is None:
        return False, None
    by_name = dict(got)
    worst = 0.0
    for i, (name, r) in enumerate(ref):
        g = by_name.get(name)
        if g is None and i < len(got):
            g = got[i][1]
        if g is None or tuple(np.shape(g)) != tuple(np.shape(r)):
            return False, float("inf")
        r64, g64 = np.asarray(r, np.float64), np.asarray(g, np.float64)
        if not np.all(np.isfinite(g64)):
            return False, float("inf")
        span = float(r64.max() - r64.min()) if r64.size else 0.0
        scale = span if span > 0 else max(float(np.abs(r64).max()) if r64.size else 0.0, 1.0)
        err = float(np.abs(r64 - g64).max()) / scale if r64.size else 0.0
        worst = max(worst, err)
    return worst <= tolerance, worst


def stats(times):
    t = np.asarray(times)
    return {"median_ms": float(np.median(t)), "p90_ms": float(np.percentile(t, 90)), "runs": int(t.size),
            "min_ms": float(t.min())}


def peak_flops(args, threads):
    argv = [args.peak_flops, f"--threads={threads}"]
    if args.smoke:
        argv += ["--seconds=0.01", "--repeats=1"]
    return json.loads(subprocess.run(argv, check=True, capture_output=True, text=True).stdout)


def kiln_build(args, name, path, shapes, workdir, threads, precision=None):
    """Cold build (no timing cache), then a warm one with the cache the cold build wrote;
    `precision`: None (FP32), 'bf16' or 'fp16' (the builder flag)."""
    base = os.path.join(workdir, "plans", name + (f"_{precision}" if precision else ""))
    os.makedirs(os.path.dirname(base), exist_ok=True)
    cache = base + ".cache"
    if os.path.exists(cache):
        os.remove(cache)
    shape_flag = ",".join(f"{k}:{'x'.join(map(str, v))}" for k, v in shapes.items()) or "-"
    res = {}
    for kind, plan in (("cold", base + ".cold.plan"), ("warm", base + ".plan")):
        # The plan the previous build wrote (400 MB for BERT-base) is still being written back:
        # left to overlap the next build it made a warm BERT build 0.4-1.0 s instead of 0.4 s.
        os.sync()
        p = subprocess.run([args.kiln_time, "build", f"--onnx={path}", f"--plan={plan}", f"--cache={cache}",
                            f"--threads={threads}", f"--shapes={shape_flag}", f"--bf16={int(precision == 'bf16')}",
                            f"--fp16={int(precision == 'fp16')}"],
                           capture_output=True, text=True)
        try:
            msg = json.loads(p.stdout.strip().splitlines()[-1])
        except (IndexError, json.JSONDecodeError):
            msg = {"error": (p.stderr.strip().splitlines() or ["kiln_time build failed"])[-1][:300]}
        if "error" in msg:
            log(f"{name}: Kiln build failed: {msg['error']}")
            return {"error": msg["error"]}, res
        res[kind] = msg
        log(f"{name}: Kiln{' ' + precision.upper() if precision else ''} {kind} build {msg['build_s']:.2f} s "
            f"(parse {msg['parse_s']:.2f} s)")
    os.remove(base + ".cold.plan")
    os.sync()  # nor beside the timed runs that follow
    return base + ".plan", res


def bench_model(args, name, workdir, threads_list, peak):
    label, _, shapes, batch = MODELS[name]
    path = model_path(name, workdir)
    indir = os.path.join(workdir, "in", name)
    os.makedirs(indir, exist_ok=True)
    manifest, feeds = make_inputs(path, shapes, indir)
    import flops as flops_mod
    flops, unknown = flops_mod.count_flops(path, shapes, feeds)
    row = {"name": name, "label": label, "batch": batch, "gflop": flops / 1e9, "flops_unknown": unknown,
           "transformer": name in TRANSFORMERS, "by_threads": {}}
    plan, row["build"] = kiln_build(args, name, path, shapes, workdir, max(threads_list))
    if isinstance(plan, str):
        row["plan"] = plan
        row["plan_mib"] = os.path.getsize(plan) / 2**20
    plans = {"kiln": plan}
    for prec in REDUCED:
        if f"kiln_{prec}" in args.runtimes:
            plans[f"kiln_{prec}"], row[f"build_{prec}"] = kiln_build(args, name, path, shapes, workdir,
                                                                     max(threads_list), prec)
    iters = args.b8_iters if batch >= 8 and not args.smoke else args.iters
    for threads in threads_list:
        workers = start_workers(args, name, path, plans, manifest, threads, args.runtimes, workdir)
        live = [rt for rt in args.runtimes if isinstance(workers[rt], Worker)]
        per_round = -(-iters // args.rounds)
        for r in range(args.rounds):
            order = live[r % len(live):] + live[:r % len(live)] if live else []
            for rt in order:
                time.sleep(args.pause)  # let the previous runtime's spinning threads go idle
                workers[rt].run(args.warmup if r == 0 else 1, per_round)
        res = {}
        for rt in args.runtimes:
            w = workers[rt]
            if isinstance(w, Worker) and not w.error:
                w.fetch_outputs()
                w.quit()
            if not isinstance(w, Worker) or w.error:
                res[rt] = {"status": "n/a", "reason": w["error"] if isinstance(w, dict) else w.error}
                continue
            s = stats(w.times)
            s["gflops"] = flops / 1e9 / (s["median_ms"] / 1e3)
            peak_n = peak["peak_gflops"].get(str(threads)) or peak["peak_gflops"]["1"] * threads
            s["peak_frac"] = s["gflops"] / peak_n if peak_n else None
            s["throughput"] = batch * 1e3 / s["median_ms"]
            s["peak_rss_mib"] = w.final.get("peak_rss_kb", 0) / 1024
            s["rss_start_mib"] = w.final.get("rss_start_kb", 0) / 1024
            s["load_s"] = w.ready.get("load_s")
            s["loaded_rss_mib"] = w.ready.get("rss_kb", 0) / 1024  # after load and one inference
            s["outputs"] = w.outputs
            res[rt] = s
        ref = res.get("ort", {}).get("outputs")
        for rt, s in res.items():
            if s.get("status") == "n/a":
                continue
            if ref is None:
                s["valid"], s["err"] = None, None  # nothing to check against
            else:
                s["valid"], s["err"] = validate(ref, s["outputs"], BF16_TOLERANCE if rt in BF16_RUNTIMES else TOLERANCE)
            s["status"] = "ok" if s["valid"] in (True, None) else "INVALID"
            if s["status"] == "INVALID":
                log(f"{name} t{threads}: {rt} INVALID (max err {s['err']:.3g} of the output range)")
        for s in res.values():
            s.pop("outputs", None)
        row["by_threads"][str(threads)] = res
        summary = ", ".join(f"{rt} {s['median_ms']:.2f} ms" if "median_ms" in s else f"{rt} n/a"
                            for rt, s in res.items())
        log(f"{name} t{threads}: {summary}")
    return row


def profile_worst(args, rows, threads):
    """kilnexec per-layer profiles of the models where Kiln trails the faster peer most: the worst
    overall and, if that one is tiny (< 1 GFLOP, overhead-bound), the worst of the larger ones."""
    ranked = []
    for row in rows:
        res = row["by_threads"].get(str(threads), {})
        k = res.get("kiln", {}).get("median_ms")
        peers = [res[p]["median_ms"] for p in ("ort", "openvino") if res.get(p, {}).get("median_ms")]
        if k and peers and row.get("plan"):
            ranked.append((k / min(peers), row))
    ranked.sort(key=lambda x: -x[0])
    if not ranked or not args.kilnexec:
        return []
    picks = [ranked[0]]
    if ranked[0][1]["gflop"] < 1:
        picks += [x for x in ranked if x[1]["gflop"] >= 1][:1]
    return [profile_one(args, row, ratio, threads) for ratio, row in picks]


def profile_one(args, row, ratio, threads):
    out = os.path.join(args.workdir, f"profile_{row['name']}.json")
    info = os.path.join(args.workdir, f"layers_{row['name']}.json")
    shapes = MODELS[row["name"]][2]
    argv = [args.kilnexec, f"--loadEngine={row['plan']}", f"--threads={threads}", "--iterations=20", "--warmUp=200",
            "--duration=0", f"--exportProfile={out}", f"--exportLayerInfo={info}"]
    if shapes:
        argv.append("--shapes=" + ",".join(f"{k}:{'x'.join(map(str, v))}" for k, v in shapes.items()))
    p = subprocess.run(argv, capture_output=True, text=True)
    if p.returncode != 0:
        return {"model": row["name"], "error": (p.stderr.strip().splitlines() or ["kilnexec failed"])[-1]}
    prof = [e for e in json.load(open(out)) if "name" in e]
    layers = json.load(open(info)).get("Layers", [])
    return {"model": row["name"], "label": row["label"], "batch": row["batch"], "ratio": ratio, "threads": threads,
            "layers": prof, "layer_info": layers}


def versions():
    v = {"python": sys.version.split()[0], "numpy": np.__version__}
    for mod in ("onnxruntime", "openvino", "onnx"):
        try:
            v[mod] = __import__(mod).__version__
        except Exception:  # noqa: BLE001
            v[mod] = "not installed"
    try:
        v["kiln_commit"] = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                                          text=True).stdout.strip()
        if subprocess.run(["git", "-C", ROOT, "diff", "--quiet", "HEAD"], capture_output=True).returncode:
            v["kiln_commit"] += " (+ uncommitted changes)"
    except OSError:
        v["kiln_commit"] = "unknown"
    return v


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kiln-time", required=True, help="path of the kiln_time binary (build/bench/kiln_time)")
    ap.add_argument("--peak-flops", required=True, help="path of kiln_peak_flops")
    ap.add_argument("--kilnexec", help="path of kilnexec: profiles the model where Kiln trails most")
    ap.add_argument("--workdir", default=os.path.join(ROOT, "build", "bench-work"))
    ap.add_argument("--models", help="comma list (default: %s; more: %s)" % (
        ",".join(DEFAULT_MODELS), ",".join(m for m in MODELS if m not in DEFAULT_MODELS + SMOKE_MODELS)))
    ap.add_argument("--threads", default=None, help="comma list of thread counts (default 1,<all cores>)")
    ap.add_argument("--runtimes", default=",".join(RUNTIMES))
    ap.add_argument("--iters", type=int, default=50, help="timed runs per runtime at batch 1")
    ap.add_argument("--b8-iters", type=int, default=10, help="timed runs per runtime at batch 8 (all cores only)")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=5, help="interleaving rounds")
    ap.add_argument("--pause", type=float, default=0.05, help="seconds between two runtimes' turns")
    ap.add_argument("--quick", action="store_true", help="10 timed runs in 2 rounds, no batch-8 rows")
    ap.add_argument("--smoke", action="store_true", help="tiny models, 3 runs: checks the harness, not speed")
    ap.add_argument("--bf16", action="store_true", help="also Kiln --bf16 and OpenVINO with bf16 inference precision")
    ap.add_argument("--fp16", action="store_true", help="also Kiln --fp16 and OpenVINO with f16 inference precision")
    ap.add_argument("--json", help="results JSON (default <workdir>/results.json)")
    ap.add_argument("--doc", help="write the markdown report here (e.g. docs/benchmarks.md)")
    args = ap.parse_args()
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError as e:
        print(f"bench: skipped, {e} (scripts/setup.sh installs it)")
        return 77
    args.runtimes = [r for r in args.runtimes.split(",") if r]
    for prec in REDUCED:
        if getattr(args, prec):
            args.runtimes += [f"{r}_{prec}" for r in ("kiln", "openvino") if r in args.runtimes]
    cores = os.cpu_count() or 1
    threads_list = [int(t) for t in args.threads.split(",")] if args.threads else sorted({1, cores})
    models = args.models.split(",") if args.models else DEFAULT_MODELS
    if args.smoke:
        models = args.models.split(",") if args.models else SMOKE_MODELS
        args.iters, args.rounds, args.warmup, args.pause = 3, 1, 1, 0.0
        threads_list = [1]
        args.workdir = os.path.join(args.workdir, "smoke")  # wiped first: never the cached models
    elif args.quick:
        args.iters, args.rounds = 10, 2
        models = [m for m in models if MODELS[m][3] < 8]
    for m in models:
        if m not in MODELS:
            ap.error(f"unknown model '{m}' (known: {', '.join(MODELS)})")
    if args.smoke and os.path.isdir(args.workdir):
        shutil.rmtree(args.workdir)
    os.makedirs(args.workdir, exist_ok=True)
    t_start = time.time()
    load_start = os.getloadavg()
    peak = peak_flops(args, max(threads_list))
    one, nmax = peak["peak_gflops"]["1"], max(threads_list)
    measured = peak["peak_gflops"].get(str(nmax), one)
    if nmax > 1 and measured < 0.9 * nmax * one:
        # Other load kept the threads from running at once: the roofline is cores x one core's.
        peak["peak_gflops"][str(nmax)] = nmax * one
        peak["note"] = (f"the {nmax}-thread FMA peak measured {measured:.1f} GFLOP/s, below {nmax} x the 1-thread peak "
                        f"(other load kept the threads from running together); efficiency uses {nmax} x {one:.1f}")
    log(f"FMA peak ({peak['best_isa']}): {peak['peak_gflops']} GFLOP/s")
    rows = []
    for m in models:
        batch = MODELS[m][3]
        tl = [max(threads_list)] if batch >= 8 and not args.smoke else threads_list
        rows.append(bench_model(args, m, args.workdir, tl, peak))
    profile = profile_worst(args, rows, max(threads_list))  # list of per-model profiles
    result = {"machine": machine(), "peak": peak, "versions": versions(), "threads": threads_list,
              "command": "python3 " + " ".join(_rel(a) for a in sys.argv),
              "load_avg_start": load_start, "load_avg_end": os.getloadavg(), "seconds": time.time() - t_start,
              "iters": args.iters, "b8_iters": args.b8_iters, "rounds": args.rounds, "quick": args.quick,
              "smoke": args.smoke, "rows": rows, "profiles": profile, "not_run": NOT_RUN, "tolerance": TOLERANCE,
              "bf16": args.bf16, "fp16": args.fp16, "bf16_tolerance": BF16_TOLERANCE}
    json.dump(result, open(args.json or os.path.join(args.workdir, "results.json"), "w"), indent=1)
    import report
    text = report.render(result)
    if args.doc:
        open(args.doc, "w").write(text)
        log(f"wrote {args.doc}")
    print(text)
    log(f"done in {time.time() - t_start:.0f} s")
    if args.smoke:
        return smoke_check(result)
    return 0


def _rel(arg):
    """An argument as typed, with paths inside the repository made relative to it."""
    key, eq, val = arg.partition("=") if arg.startswith("--") else ("", "", arg)
    path = os.path.abspath(val)
    if os.path.exists(path) and path.startswith(ROOT + os.sep):
        val = os.path.relpath(path, ROOT)
    return key + eq + val


def machine():
    info = {"model": "unknown", "cores": os.cpu_count(), "flags": []}
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            k, _, v = line.partition(":")
            if k.strip() == "Model name":
                info["model"] = v.strip()
            if k.strip() == "Flags":
                info["flags"] = [f for f in v.split() if f.startswith(("avx", "fma", "amx"))]
    except OSError:
        pass
    return info


def smoke_check(result):
    """The harness works: Kiln and ONNX Runtime ran every model with valid outputs, every
    present peer validated or said why not, and a wrong output is caught."""
    problems = []
    for row in result["rows"]:
        for threads, res in row["by_threads"].items():
            for rt in ("kiln", "ort") + tuple(f"kiln_{p}" for p in REDUCED if result.get(p)):
                s = res.get(rt, {})
                if s.get("status") != "ok" or not s.get("runs"):
                    problems.append(f"{row['name']} t{threads} {rt}: {s.get('status')} {s.get('reason', '')}")
            for rt in ("openvino",) + tuple(f"openvino_{p}" for p in REDUCED):
                ov = res.get(rt)
                if ov is not None and ov.get("status") == "INVALID":
                    problems.append(f"{row['name']} t{threads} {rt}: INVALID")
                if ov is not None and ov.get("status") == "n/a" and not ov.get("reason"):
                    problems.append(f"{row['name']} t{threads} {rt}: n/a without a reason")
        if not row.get("build", {}).get("warm"):
            problems.append(f"{row['name']}: no warm-cache build time")
        if row["gflop"] <= 0 or row["flops_unknown"]:
            problems.append(f"{row['name']}: FLOPs not counted ({row['flops_unknown']})")
    ref = [("y", np.linspace(-1, 1, 100).astype(np.float32))]
    bad = [("y", ref[0][1] + np.float32(0.01))]  # 0.5% of the range: must fail
    if validate(ref, bad)[0] or not validate(ref, ref)[0]:
        problems.append("validate() does not tell a wrong output from a right one")
    for p in result.get("profiles") or []:
        if "error" in p or not p.get("layers"):
            problems.append(f"profile of {p['model']}: {p.get('error', 'no layers')}")
    if result["peak"]["peak_gflops"]["1"] <= 0:
        problems.append("kiln_peak_flops measured no peak")
    for p in problems:
        print("SMOKE FAILURE:", p)
    print(f"bench smoke: {len(result['rows'])} models, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
