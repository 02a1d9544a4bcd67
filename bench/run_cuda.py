#!/usr/bin/env python3
"""GPU benchmark (issue #7): Kiln vs PyTorch eager and torch.compile, same weights and inputs, one run.

Models (bench/models/export_gpu_models.py): ResNet-50 (batch 1, 128), ViT-B/16 (1, 64), BERT-base
seq 128 (1, 32), the YOLO-style detector (1, 16); precisions FP32 (TF32 on), FP16 and BF16.
  - PyTorch: bench/cuda_torch_worker.py, one process per model x batch. torch.compile tries mode
    max-autotune within --compile-limit seconds, else mode default (the row records which).
  - Kiln: kilnexec --onnx --device=cuda [--fp16|--bf16] with the same input bytes; its trtexec
    summary ("GPU Compute Time: ... median = ...", "Throughput: ... qps") is parsed. A precision
    flag kilnexec rejects, or that it says it ignores, is recorded as n/a.
  - Roofline in the same run: FP16 GEMM 8192³ (torch.matmul -> cuBLASLt) and a device copy.
  - Outputs at batch 1: max |out - out_FP32| / max |out_FP32| against PyTorch eager FP32.
Writes <workdir>/cuda_bench.json and <workdir>/cuda_bench.md (the table), and with --doc FILE
puts the table into FILE between its markers (docs/benchmarks-gpu.md: run_cpu.py rewrites the
whole of docs/benchmarks.md).
Phase 1 runs eager (all precisions) and Kiln for every model x batch; phase 2 runs torch.compile,
FP16 first (the issue's targets), then BF16, then FP32, each compile limited to the time left in
--budget (seconds from the start, default 400); what does not fit is recorded as skipped, so
the full set stays under 8 minutes on an H200. Inductor's caches live in <workdir>, so a second
run compiles faster (and gets further through phase 2).

  python3 bench/run_cuda.py --kilnexec build/tools/kilnexec/kilnexec --workdir /tmp/bench_cuda
  --quick: batch 1, FP16 only (PyTorch eager FP32 still runs, as the outputs' reference).
  --models resnet50,bert_base: a subset.
  --dry-run: no GPU: exports the models (unless --no-export), prints the plan of runs and writes
             the report from a fixture (bench/test_run_cuda.py checks the parts without a GPU).
"""
import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "models"))

import cuda_report  # noqa: E402

BATCHES = {"resnet50": (1, 128), "vit_b_16": (1, 64), "bert_base": (1, 32), "yolo": (1, 16)}
PRECISIONS = ("fp32", "fp16", "bf16")
KILN_FLAG = {"fp32": [], "fp16": ["--fp16"], "bf16": ["--bf16"]}
FP16_TOLERANCE = 1e-2


def log(*a):
    print(f"[{time.strftime('%H:%M:%S')}]", *a, file=sys.stderr, flush=True)


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kilnexec", default=os.path.join(ROOT, "build/tools/kilnexec/kilnexec"))
    ap.add_argument("--workdir", default="/tmp/kiln_bench_cuda")
    ap.add_argument("--models", default=",".join(BATCHES), help="comma-separated subset of " + ",".join(BATCHES))
    ap.add_argument("--precisions", default=",".join(PRECISIONS))
    ap.add_argument("--quick", action="store_true", help="batch 1 and FP16 only")
    ap.add_argument("--batch-sizes", help="only these of each model's batches (comma-separated, e.g. 1)")
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--iters", type=int, default=100, help="timed iterations at batch 1 (fewer at large batch)")
    ap.add_argument("--compile-limit", type=float, default=60, help="seconds for a max-autotune torch.compile")
    ap.add_argument("--default-compile-limit", type=float, default=90, help="seconds for the default-mode retry")
    ap.add_argument("--budget", type=float, default=400, help="seconds from the start; torch.compile runs only within it")
    ap.add_argument("--no-compile", action="store_true", help="skip torch.compile")
    ap.add_argument("--no-kiln", action="store_true")
    ap.add_argument("--compile-from", help="comma-separated result JSONs of earlier runs (e.g. --no-kiln ones): "
                                           "rows this run has no torch.compile figure for take theirs, noted as such")
    ap.add_argument("--dry-run", action="store_true")
    ap.add_argument("--no-export", action="store_true", help="with --dry-run: skip the ONNX exports")
    ap.add_argument("--out-json")
    ap.add_argument("--out-md")
    ap.add_argument("--doc", help="also put the table into this markdown file, between run_cuda.py's markers "
                                  "(replaced on a re-run; appended when absent)")
    ap.add_argument("--torch-device", default="cuda", help=argparse.SUPPRESS)  # cpu: the harness's own test
    ap.add_argument("--roofline-only", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--export-one", nargs=3, metavar=("MODEL", "BATCH", "DIR"), help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    a.model_list = [m.strip() for m in a.models.split(",") if m.strip()]
    bad = [m for m in a.model_list if m not in BATCHES]
    if bad:
        ap.error(f"unknown model(s) {', '.join(bad)} (known: {', '.join(BATCHES)})")
    a.precision_list = [p.strip() for p in a.precisions.split(",") if p.strip()]
    bad = [p for p in a.precision_list if p not in PRECISIONS]
    if bad:
        ap.error(f"unknown precision(s) {', '.join(bad)} (known: {', '.join(PRECISIONS)})")
    if a.quick:
        a.precision_list = ["fp16"]
    a.out_json = a.out_json or os.path.join(a.workdir, "cuda_bench.json")
    a.out_md = a.out_md or os.path.join(a.workdir, "cuda_bench.md")
    return a


def plan(args):
    """[(model, batch, iters, warmup)] in run order: short runs, fewer at large batch."""
    out = []
    for m in args.model_list:
        for b in BATCHES[m][:1] if args.quick else BATCHES[m]:
            if args.batch_sizes and str(b) not in args.batch_sizes.split(","):
                continue
            iters = args.iters if b == 1 else max(10, args.iters // 4)
            warm = args.warmup if b == 1 else max(5, args.warmup // 4)
            out.append((m, b, iters, warm))
    return out


def torch_tasks(args, with_compile):
    tasks = []
    for p in args.precision_list:
        tasks.append(f"{p}:eager")
        if with_compile:
            tasks.append(f"{p}:compile:max-autotune")
    return tasks


# ---- exports (CPU, in parallel with nothing else on the GPU side: they run first)

def export_one(model, batch, outdir):
    """The ONNX model, its inputs as raw bytes (kilnexec --loadInputs) and the FP32 reference shapes."""
    import torch
    import export_gpu_models as gm
    path = os.path.join(outdir, f"{model}_b{batch}.onnx")
    if not os.path.exists(path):
        gm.export(model, batch, path + ".tmp")
        os.replace(path + ".tmp", path)
    _, inputs, names, _ = gm.build(model, batch)
    for n, x in zip(names, inputs):
        x.numpy().tofile(os.path.join(outdir, f"{model}_b{batch}.{n}.bin"))
    with open(os.path.join(outdir, f"{model}_b{batch}.inputs.json"), "w") as f:
        json.dump([{"name": n, "shape": list(x.shape), "dtype": str(x.dtype).replace("torch.", "")}
                   for n, x in zip(names, inputs)], f)
    del torch


def export_all(args, runs):
    os.makedirs(args.workdir, exist_ok=True)
    todo = [(m, b) for m, b, _, _ in runs if not os.path.exists(os.path.join(args.workdir, f"{m}_b{b}.inputs.json"))]
    if not todo:
        return
    log(f"exporting {len(todo)} models")

    def run(mb):
        m, b = mb
        p = subprocess.run([sys.executable, os.path.abspath(__file__), "--export-one", m, str(b), args.workdir],
                           capture_output=True, text=True)
        if p.returncode:
            raise SystemExit(f"export of {m} batch {b} failed:\n{p.stderr[-2000:]}")

    with ThreadPoolExecutor(max_workers=min(4, len(todo))) as pool:
        list(pool.map(run, todo))


def input_arg(workdir, model, batch):
    with open(os.path.join(workdir, f"{model}_b{batch}.inputs.json")) as f:
        names = [i["name"] for i in json.load(f)]
    return ",".join(f"{n}:{os.path.join(workdir, f'{model}_b{batch}.{n}.bin')}" for n in names)


# ---- PyTorch

def run_torch(args, model, batch, iters, warm, tasks, deadline):
    """Runs `tasks` in worker processes. A torch.compile gets min(its --*-compile-limit, the time left before
    `deadline`); one past it is killed, and a max-autotune one is retried in mode default while time is left."""
    results, queue = {}, list(tasks)
    jsonl = os.path.join(args.workdir, f"{model}_b{batch}.torch.jsonl")
    min_compile_s = 10.0

    def skip_compiles_over_budget():
        nonlocal queue
        if time.time() + min_compile_s > deadline:
            for t in [t for t in queue if ":compile:" in t]:
                results[t] = {"task": t, "error": "skipped: over the run's --budget"}
            queue = [t for t in queue if ":compile:" not in t]

    skip_compiles_over_budget()
    while queue:
        if os.path.exists(jsonl):
            os.remove(jsonl)
        cmd = [sys.executable, os.path.join(HERE, "cuda_torch_worker.py"), "--model", model, "--batch", str(batch),
               "--tasks", ",".join(queue), "--out", jsonl, "--workdir", args.workdir, "--iters", str(iters),
               "--warmup", str(warm), "--device", args.torch_device]
        env = dict(os.environ, TORCHINDUCTOR_CACHE_DIR=os.path.join(args.workdir, "inductor_cache"))
        # stderr to a file (a pipe nobody reads would block a chatty worker); a session of its own, so that a
        # kill also ends inductor's compile workers.
        err_path = os.path.join(args.workdir, f"{model}_b{batch}.torch.stderr")
        with open(err_path, "w") as err:
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env=env, start_new_session=True)
        killed, current, started, limit = None, None, time.time(), 600.0
        while proc.poll() is None:
            time.sleep(0.25)
            for rec in _read_jsonl(jsonl):
                if rec["event"] == "start":
                    if rec["task"] != current:
                        current, started = rec["task"], time.time()
                        limit = 600.0
                        if ":compile:" in current:
                            cfg = args.compile_limit if current.endswith("max-autotune") else args.default_compile_limit
                            limit = max(0.0, min(cfg, deadline - started))
                elif rec["task"] not in results:
                    results[rec["task"]] = rec
            if current and current not in results and time.time() - started > limit:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                killed = current
        proc.wait()
        with open(err_path, errors="replace") as f:
            stderr_tail = f.read()[-500:]
        for rec in _read_jsonl(jsonl):
            if rec["event"] == "done":
                results.setdefault(rec["task"], rec)
        rest = [t for t in queue if t not in results]
        if killed:
            log(f"{model} b{batch} {killed}: over its {limit:.0f} s limit, killed")
            results[killed] = {"task": killed, "error": f"compile exceeded {limit:.0f} s", "timeout": True}
        elif rest:
            killed = rest[0]
            results[killed] = {"task": killed, "error": f"worker exited {proc.returncode}: {stderr_tail.strip()[-300:]}"}
        queue = [t for t in queue if t not in results]
        if killed and killed.endswith(":compile:max-autotune"):
            queue.insert(0, killed.replace("max-autotune", "reduce-overhead"))
        skip_compiles_over_budget()
    return results


def _read_jsonl(path):
    if not os.path.exists(path):
        return []
    out = []
    with open(path) as f:
        for line in f:
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                pass  # a line being written
    return out


def fill_compile_from(rows, paths):
    """Rows without a torch.compile median take one from the same (model, batch, precision) row of the
    result JSONs `paths` (earlier runs: torch.compile needs more time than one device call leaves after
    Kiln's builds); the copied figure keeps a note naming its file."""
    for path in paths:
        with open(path) as f:
            earlier = {(r["model"], r["batch"], r["precision"]): r for r in json.load(f).get("rows", [])}
        for row in rows:
            if (row.get("compile") or {}).get("median_ms"):
                continue
            old = (earlier.get((row["model"], row["batch"], row["precision"])) or {}).get("compile") or {}
            if old.get("median_ms"):
                note = f"measured in an earlier run ({os.path.basename(path)})"
                row["compile"] = dict(old, note=f"{old['note']}; {note}" if old.get("note") else note)


def pick_compile(results, prec):
    """The torch.compile result of `prec`: max-autotune if it ran, else reduce-overhead (CUDA graphs without
    autotuning: what Kiln's --useCudaGraph numbers face); notes say what happened."""
    ma, df = results.get(f"{prec}:compile:max-autotune"), results.get(f"{prec}:compile:reduce-overhead")
    if ma and ma.get("median_ms"):
        return dict(ma, mode="max-autotune")
    if df and df.get("median_ms"):
        return dict(df, mode="reduce-overhead", note=f"max-autotune: {ma.get('error', 'failed') if ma else 'not run'}; "
                                                     f"reduce-overhead mode used")
    if ma or df:
        return {"error": "; ".join(f"{k}: {r.get('error', '?')}" for k, r in (("max-autotune", ma),
                                                                             ("reduce-overhead", df)) if r)}
    return None


# ---- Kiln

def run_kiln(args, model, batch, iters, prec, extra=(), export_output=False, save_engine=None, load_engine=None):
    """One kilnexec run: builds from the ONNX export (or loads `load_engine`, a plan saved by an earlier run)."""
    onnx = os.path.join(args.workdir, f"{model}_b{batch}.onnx")
    source = [f"--loadEngine={load_engine}"] if load_engine else [f"--onnx={onnx}", *KILN_FLAG[prec]]
    if save_engine:
        source.append(f"--saveEngine={save_engine}")
    cmd = [args.kilnexec, *source, "--device=cuda", *extra,
           f"--loadInputs={input_arg(args.workdir, model, batch)}", f"--iterations={iters}", "--warmUp=200",
           "--duration=0"]
    out_json = os.path.join(args.workdir, f"{model}_b{batch}_kiln_{prec}.json")
    if export_output:
        cmd.append(f"--exportOutput={out_json}")
    t0 = time.time()
    p = subprocess.run(cmd, capture_output=True, text=True)
    text = p.stdout + p.stderr
    rec = {"cmd": " ".join(cmd), "wall_s": round(time.time() - t0, 1)}
    if p.returncode:
        last = [l for l in text.strip().splitlines() if l.strip()][-3:]
        if KILN_FLAG[prec] and any(f in text for f in KILN_FLAG[prec]) and "unknown option" in text:
            rec["na"] = f"kilnexec has no {KILN_FLAG[prec][0]}"
        else:
            rec["error"] = " | ".join(last)[:400]
        return rec
    # kilnexec's CPU-era note: the precision flag was accepted but the engine is FP32.
    if KILN_FLAG[prec] and re.search(r"builds? (it )?FP32|ignor\w+ --?(fp16|bf16)", text, re.I):
        rec["na"] = f"kilnexec accepted {KILN_FLAG[prec][0]} but built FP32"
        return rec
    if "--useCudaGraph" in extra and re.search(r"useCudaGraph[^\n]*(no effect|ignored|not used)", text, re.I):
        rec["na"] = "kilnexec accepted --useCudaGraph but did not use a CUDA graph"
        return rec
    s = cuda_report.parse_kilnexec(text)
    if "gpu_compute" not in s:
        rec["error"] = "no 'GPU Compute Time' line in kilnexec's output"
        return rec
    rec.update(median_ms=s["gpu_compute"]["median"], min_ms=s["gpu_compute"]["min"], mean_ms=s["gpu_compute"]["mean"],
               throughput_qps=s.get("throughput_qps"), summary=s)
    if "device_mem_bytes" in s:
        rec["mem_bytes"] = s["device_mem_bytes"] + s.get("plan_bytes", 0)
    if export_output and os.path.exists(out_json):
        with open(out_json) as f:
            outs = json.load(f)
        rec["output"] = out_json
        rec["_values"] = np.asarray(outs[0]["values"], np.float32)
    return rec


# ---- roofline and versions

def roofline():
    import torch
    a = torch.randn(8192, 8192, device="cuda", dtype=torch.float16)
    b = torch.randn(8192, 8192, device="cuda", dtype=torch.float16)
    for _ in range(3):
        torch.matmul(a, b)
    torch.cuda.synchronize()
    s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    n = 20
    s.record()
    for _ in range(n):
        torch.matmul(a, b)
    e.record()
    torch.cuda.synchronize()
    gemm = 2 * 8192 ** 3 * n / (s.elapsed_time(e) * 1e-3) / 1e12
    src = torch.empty(2 ** 30, dtype=torch.uint8, device="cuda")
    dst = torch.empty_like(src)
    for _ in range(3):
        dst.copy_(src)
    torch.cuda.synchronize()
    s.record()
    for _ in range(n):
        dst.copy_(src)
    e.record()
    torch.cuda.synchronize()
    copy = 2 * src.numel() * n / (s.elapsed_time(e) * 1e-3) / 1e12  # read + write
    return {"gemm_tflops": gemm, "copy_tbps": copy}


def measure_roofline():
    """roofline() in a child process, so that this one holds no GPU memory while the others run."""
    p = subprocess.run([sys.executable, os.path.abspath(__file__), "--roofline-only"], capture_output=True, text=True)
    try:
        return json.loads(p.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        return {"error": (p.stderr.strip().splitlines() or ["roofline failed"])[-1]}


def versions():
    v = {}
    try:
        import torch
        v.update(torch=torch.__version__, cuda=torch.version.cuda, cudnn=str(torch.backends.cudnn.version()))
    except Exception:  # noqa: BLE001
        v["torch"] = "not installed"
    # KILN_COMMIT: the commit a carried build was made from (the device's copy of the tree may have another HEAD).
    if os.environ.get("KILN_COMMIT"):
        v["kiln_commit"] = os.environ["KILN_COMMIT"]
        return v
    try:
        v["kiln_commit"] = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                                          text=True).stdout.strip()
    except OSError:
        v["kiln_commit"] = "unknown"
    return v


def gpu_info():
    try:
        q = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"],
                           capture_output=True, text=True).stdout.strip().splitlines()[0]
        name, driver = [s.strip() for s in q.split(",")]
        return {"name": name, "driver": driver}
    except (OSError, IndexError, ValueError):
        return {"name": "unknown", "driver": "?"}


def model_flops(path):
    try:
        import flops
        total, _ = flops.count_flops(path)
        return total
    except Exception:  # noqa: BLE001 - the % column is then left empty
        return None


def compare_outputs(args, row):
    """Batch-1 output errors against PyTorch eager FP32: PyTorch's own precision and Kiln's."""
    m, p = row["model"], row["precision"]
    ref_path = os.path.join(args.workdir, f"{m}_b1_torch_fp32.npy")
    ref = np.load(ref_path) if os.path.exists(ref_path) else None
    own = os.path.join(args.workdir, f"{m}_b1_torch_{p}.npy")
    if ref is not None and os.path.exists(own):
        row["torch_err"] = rel_err(np.load(own), ref)
    kv = (row.get("kiln") or {}).pop("_values", None)
    if ref is not None and kv is not None:
        row["kiln_err"] = rel_err(kv, ref)
    if p == "fp16":
        row["fp16_within_tolerance"] = {k: (row.get(k) is not None and row[k] <= FP16_TOLERANCE)
                                        for k in ("torch_err", "kiln_err")}


def rel_err(got, ref):
    if got is None or ref is None:
        return None
    got, ref = np.asarray(got, np.float64).ravel(), np.asarray(ref, np.float64).ravel()
    if got.shape != ref.shape:
        return float("inf")
    scale = float(np.max(np.abs(ref))) or 1.0
    return float(np.max(np.abs(got - ref))) / scale


# ---- the run

def dry_run(args, runs):
    if not args.no_export:
        export_all(args, runs)
    log("phase 1: PyTorch eager and Kiln")
    for m, b, iters, warm in runs:
        log(f"{m} b{b}: eager {','.join(args.precision_list)} ({warm} warm-up + {iters} runs)")
        for p in args.precision_list:
            log(f"  kilnexec --onnx={m}_b{b}.onnx --device=cuda {' '.join(KILN_FLAG[p])} --iterations={iters}"
                + " (--useCudaGraph; then the saved plan without it)")
    if not args.no_compile:
        log(f"phase 2: torch.compile max-autotune (<= {args.compile_limit:.0f} s, else default <= "
            f"{args.default_compile_limit:.0f} s), within {args.budget:.0f} s from the start")
        for p in [p for p in ("fp16", "bf16", "fp32") if p in args.precision_list]:
            log("  " + ", ".join(f"{m} b{b} {p}" for m, b, _, _ in runs))
    from test_run_cuda import fixture_result
    result = fixture_result()
    result["dry_run"] = True
    write(args, result)


def write(args, result):
    if getattr(args, "compile_from", None):  # every write: a run cut short still shows the earlier figures
        fill_compile_from(result["rows"], [p for p in args.compile_from.split(",") if p])
    os.makedirs(os.path.dirname(os.path.abspath(args.out_json)), exist_ok=True)
    with open(args.out_json, "w") as f:
        json.dump(result, f, indent=1, default=lambda o: None)
    md = cuda_report.render(result)
    with open(args.out_md, "w") as f:
        f.write(md)
    if args.doc:
        update_doc(args.doc, md)
    print(md)
    log("wrote", args.out_json, "and", args.out_md)


DOC_BEGIN = "<!-- bench/run_cuda.py: begin (generated; edits here are replaced) -->"
DOC_END = "<!-- bench/run_cuda.py: end -->"


def update_doc(path, md):
    """Replaces the text between DOC_BEGIN and DOC_END in `path` with `md` (appends a section when absent)."""
    text = open(path).read() if os.path.exists(path) else ""
    block = f"{DOC_BEGIN}\n{md}{DOC_END}\n"
    if DOC_BEGIN in text and DOC_END in text:
        head, rest = text.split(DOC_BEGIN, 1)
        text = head + block + rest.split(DOC_END, 1)[1].lstrip("\n")
    else:
        text = (text.rstrip("\n") + "\n\n" if text else "") + "## GPU (issue #7): Kiln vs PyTorch eager and torch.compile\n\n" + block
    with open(path, "w") as f:
        f.write(text)


def main(argv=None):
    args = parse_args(argv)
    if args.export_one:
        m, b, d = args.export_one
        export_one(m, int(b), d)
        return 0
    if args.roofline_only:
        print(json.dumps(roofline()))
        return 0
    runs = plan(args)
    if args.dry_run:
        dry_run(args, runs)
        return 0
    t_start = time.time()
    deadline = t_start + args.budget
    if not args.no_kiln and not os.path.exists(args.kilnexec):
        raise SystemExit(f"--kilnexec: no such file {args.kilnexec} (or pass --no-kiln)")
    export_all(args, runs)
    log(f"exports ready after {time.time() - t_start:.0f} s")
    on_gpu = args.torch_device != "cpu"
    result = {"device": gpu_info(), "versions": versions(), "roofline": measure_roofline() if on_gpu else {},
              "rows": [],
              "iters_note": f"{args.iters} timed runs after {args.warmup} warm-up at batch 1 "
                            f"({max(10, args.iters // 4)} after {max(5, args.warmup // 4)} at large batch)"}
    log(f"roofline: {result['roofline']}")
    # Phase 1: eager (every precision) and Kiln, for every model x batch.
    rows = {}
    for m, b, iters, warm in runs:
        log(f"{m} b{b}: PyTorch eager")
        eager = [f"{p}:eager" for p in args.precision_list]
        if b == 1 and "fp32" not in args.precision_list:
            eager.insert(0, "fp32:eager")  # the reference the output errors are measured against (--quick too)
        tres = run_torch(args, m, b, iters, warm, eager, deadline)
        fl = model_flops(os.path.join(args.workdir, f"{m}_b{b}.onnx"))
        for p in args.precision_list:
            row = rows[(m, b, p)] = {"model": m, "batch": b, "precision": p, "flops": fl / b if fl else None,
                                     "eager": tres.get(f"{p}:eager"), "compile": None}
            result["rows"].append(row)
            if not args.no_kiln:
                log(f"{m} b{b} {p}: Kiln")
                # Kiln's figure is with --useCudaGraph (as torch.compile's max-autotune / reduce-overhead
                # replay CUDA graphs); the same plan run with plain enqueueV3 calls goes into the notes.
                plan_path = os.path.join(args.workdir, f"{m}_b{b}_{p}.plan")
                row["kiln"] = run_kiln(args, m, b, iters, p, extra=["--useCudaGraph"], export_output=(b == 1),
                                       save_engine=plan_path)
                if row["kiln"].get("median_ms") and os.path.exists(plan_path):
                    row["kiln_plain"] = run_kiln(args, m, b, iters, p, load_engine=plan_path)
                    os.remove(plan_path)
            if b == 1:
                compare_outputs(args, row)
            write(args, result)  # after every row: a run that is cut short still leaves its table
    # Phase 2: torch.compile within the --budget, FP16 first (the targets), then BF16, then FP32.
    if not args.no_compile:
        for p in [p for p in ("fp16", "bf16", "fp32") if p in args.precision_list]:
            for m, b, iters, warm in runs:
                log(f"{m} b{b} {p}: torch.compile ({max(0, deadline - time.time()):.0f} s of the budget left)")
                tres = run_torch(args, m, b, iters, warm, [f"{p}:compile:max-autotune"], deadline)
                rows[(m, b, p)]["compile"] = pick_compile(tres, p)
                write(args, result)
    result["wall_s"] = round(time.time() - t_start, 1)
    write(args, result)
    log(f"done in {result['wall_s']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
