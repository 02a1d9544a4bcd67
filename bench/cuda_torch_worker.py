#!/usr/bin/env python3
"""PyTorch side of bench/run_cuda.py: one process per (model, batch) runs a list of tasks.

Each task is PRECISION:KIND[:MODE] (fp32|fp16|bf16, eager|compile, torch.compile mode). The
worker appends one JSON line per event to --out: {"task", "event": "start"} before a task
(so that the parent can kill a torch.compile that overruns its limit and retry with another
mode) and {"task", "event": "done", ...results} after it. Latencies are CUDA-event times per
iteration (enqueue-bound at batch 1, as kilnexec's GPU compute time); memory is
torch.cuda.max_memory_allocated during the task (tensors: weights, activations, workspaces;
not the CUDA context). Outputs of eager tasks are saved as float32 .npy for the comparison.

  python3 bench/cuda_torch_worker.py --model resnet50 --batch 1 --tasks fp16:eager,fp16:compile:max-autotune \\
      --out /tmp/w.jsonl --workdir /tmp/bench_cuda
"""
import argparse
import json
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "models"))


def emit(path, record):
    with open(path, "a") as f:
        f.write(json.dumps(record) + "\n")
        f.flush()
        os.fsync(f.fileno())


def time_fn(torch, fn, warmup, iters, device="cuda"):
    for _ in range(warmup):
        fn()
    if device == "cpu":  # the harness's own check (bench/test_run_cuda.py): host clock
        times = []
        for _ in range(iters):
            t0 = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t0) * 1e3)
        return times
    torch.cuda.synchronize()
    starts = [torch.cuda.Event(enable_timing=True) for _ in range(iters)]
    ends = [torch.cuda.Event(enable_timing=True) for _ in range(iters)]
    for i in range(iters):
        starts[i].record()
        fn()
        ends[i].record()
    torch.cuda.synchronize()
    return [s.elapsed_time(e) for s, e in zip(starts, ends)]


def rel_err(got, ref):
    """max |got - ref| / max |ref|: the comparison run_cuda.py reports (1e-2 is the FP16 target)."""
    got, ref = np.asarray(got, np.float64), np.asarray(ref, np.float64)
    if got.shape != ref.shape:
        return float("inf")
    scale = float(np.max(np.abs(ref))) or 1.0
    return float(np.max(np.abs(got - ref))) / scale


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--batch", type=int, required=True)
    ap.add_argument("--tasks", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--iters", type=int, default=100)
    ap.add_argument("--device", default="cuda", help="cpu: checks the harness without a GPU (not a benchmark)")
    args = ap.parse_args()

    import torch
    import export_gpu_models as gm

    torch.backends.cuda.matmul.allow_tf32 = True  # FP32 rows are FP32/TF32, as Kiln's default (kTF32)
    torch.backends.cudnn.allow_tf32 = True
    torch.backends.cudnn.benchmark = True
    base, inputs, _, _ = gm.build(args.model, args.batch)
    # build() turns MultiheadAttention's fast path off for the ONNX export; PyTorch is timed with it, as users run it.
    torch.backends.mha.set_fastpath_enabled(True)
    dtypes = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
    prefix = os.path.join(args.workdir, f"{args.model}_b{args.batch}")
    models = {}
    gpu = args.device != "cpu"
    for spec in args.tasks.split(","):
        prec, kind, *rest = spec.split(":")
        mode = rest[0] if rest else None
        emit(args.out, {"task": spec, "event": "start", "time": time.time()})
        rec = {"task": spec, "event": "done", "precision": prec, "kind": kind, "mode": mode}
        try:
            if kind not in ("eager", "compile") or prec not in dtypes:
                raise ValueError(f"unknown task '{spec}' (PRECISION:eager or PRECISION:compile:MODE)")
            if prec not in models:  # one precision's weights on the GPU at a time (the memory column)
                import copy
                models.clear()
                if gpu:
                    torch.cuda.empty_cache()
                models[prec] = copy.deepcopy(base).to(args.device, dtypes[prec]).eval()
            model = models[prec]
            xs = tuple(x.to(args.device, dtypes[prec]) if x.is_floating_point() else x.to(args.device) for x in inputs)
            if gpu:
                torch.cuda.synchronize()
                torch.cuda.empty_cache()
                torch.cuda.reset_peak_memory_stats()
            fn_model = model
            if kind == "compile":
                t0 = time.time()
                fn_model = torch.compile(model, mode=mode)
                with torch.no_grad():
                    fn_model(*xs)  # compiles
                if gpu:
                    torch.cuda.synchronize()
                rec["compile_s"] = round(time.time() - t0, 1)
            with torch.no_grad():
                # Copied to the host before the timed runs: CUDA-graph replays (max-autotune) overwrite outputs.
                out_np = fn_model(*xs).detach().float().cpu().numpy()
                times = time_fn(torch, lambda: fn_model(*xs), args.warmup, args.iters, args.device)
            t = np.asarray(times)
            rec.update(median_ms=float(np.median(t)), min_ms=float(t.min()), mean_ms=float(t.mean()),
                       runs=int(t.size), mem_bytes=int(torch.cuda.max_memory_allocated()) if gpu else None)
            if kind == "eager" and args.batch == 1:  # run_cuda.py compares outputs at batch 1
                np.save(f"{prefix}_torch_{prec}.npy", out_np)
            else:
                ref = f"{prefix}_torch_{prec}.npy"
                if os.path.exists(ref):
                    rec["err_vs_eager"] = rel_err(out_np, np.load(ref))
        except Exception as e:  # noqa: BLE001 - recorded in the report, the next task still runs
            rec["error"] = f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"[:300]
        emit(args.out, rec)


if __name__ == "__main__":
    main()
