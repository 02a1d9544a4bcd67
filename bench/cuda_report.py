"""Parsing kilnexec's trtexec-style summary and writing bench/run_cuda.py's markdown table.

No GPU and no PyTorch needed: bench/test_run_cuda.py checks both on fixed inputs.
"""
import re

_NUM = r"([-+0-9.eE]+)"
_STAT_LINE = re.compile(r"(GPU Compute Time|Latency|Enqueue Time|H2D Latency|D2H Latency): min = " + _NUM +
                        r" ms, max = " + _NUM + r" ms, mean = " + _NUM + r" ms, median = " + _NUM + r" ms")
_THROUGHPUT = re.compile(r"Throughput: " + _NUM + r" qps")
_DEVICE_MEM = re.compile(r"Device memory[^:]*: (\d+) bytes")
_PLAN_SIZE = re.compile(r"Plan size: (\d+) bytes")


def parse_kilnexec(text):
    """The summary of one kilnexec (or trtexec) run: {"gpu_compute": {min, max, mean, median}, "latency": ...,
    "throughput_qps", "device_mem_bytes", "plan_bytes"}; keys whose line is absent are left out."""
    out = {}
    keys = {"GPU Compute Time": "gpu_compute", "Latency": "latency", "Enqueue Time": "enqueue",
            "H2D Latency": "h2d", "D2H Latency": "d2h"}
    for line in text.splitlines():
        m = _STAT_LINE.search(line)
        if m and keys[m.group(1)] not in out:  # "Latency" also matches inside "H2D Latency": anchored below
            head = line[:m.start()].rstrip()
            if m.group(1) == "Latency" and head.endswith(("H2D", "D2H")):
                continue
            out[keys[m.group(1)]] = {"min": float(m.group(2)), "max": float(m.group(3)), "mean": float(m.group(4)),
                                     "median": float(m.group(5))}
            continue
        if (m := _THROUGHPUT.search(line)) and "throughput_qps" not in out:
            out["throughput_qps"] = float(m.group(1))
        elif (m := _DEVICE_MEM.search(line)) and "device_mem_bytes" not in out:
            out["device_mem_bytes"] = int(m.group(1))
        elif (m := _PLAN_SIZE.search(line)) and "plan_bytes" not in out:
            out["plan_bytes"] = int(m.group(1))
    return out


PRETTY = {"resnet50": "ResNet-50", "vit_b_16": "ViT-B/16", "bert_base": "BERT-base s128", "yolo": "YOLO-style 640"}
UNIT = {"resnet50": "img/s", "vit_b_16": "img/s", "bert_base": "seq/s", "yolo": "img/s"}


def _ms(r):
    return f"{r['median_ms']:.3f}" if r and "median_ms" in r else _why(r)


def _why(r):
    if not r:
        return "not run"
    if r.get("na"):
        return "n/a"
    if r.get("error"):
        return "skipped (budget)" if "budget" in r["error"] else "failed"
    return "not run"


def _thr(r, batch):
    return f"{batch * 1000.0 / r['median_ms']:,.0f}" if r and r.get("median_ms") else "–"


def _mib(r):
    return f"{r['mem_bytes'] / 2**20:,.0f}" if r and r.get("mem_bytes") else "–"


def faster_torch(row):
    """The faster of eager and torch.compile (by median latency), or None."""
    cands = [r for r in (row.get("eager"), row.get("compile")) if r and r.get("median_ms")]
    return min(cands, key=lambda r: r["median_ms"]) if cands else None


def ratios(row):
    """(throughput ratio Kiln / faster PyTorch, latency ratio Kiln / faster PyTorch), None where unknown."""
    k, t = row.get("kiln"), faster_torch(row)
    if not (k and k.get("median_ms") and t):
        return None, None
    return t["median_ms"] / k["median_ms"], k["median_ms"] / t["median_ms"]


def render(result):
    """Markdown for docs/benchmarks.md: the machine, the roofline, one row per model x batch x precision,
    and the notes (errors, modes, what is n/a)."""
    lines = []
    dev, ver = result.get("device", {}), result.get("versions", {})
    if result.get("dry_run"):
        lines += ["**DRY RUN: no GPU was used; the numbers below are the test fixture's, not measurements.**", ""]
    lines.append(f"GPU: {dev.get('name', 'unknown')} (driver {dev.get('driver', '?')}); PyTorch "
                 f"{ver.get('torch', '?')}, CUDA {ver.get('cuda', '?')}, cuDNN {ver.get('cudnn', '?')}; Kiln "
                 f"{ver.get('kiln_commit', '?')}. Median of {result.get('iters_note', 'the timed runs')}; latency in ms "
                 "(CUDA events per inference; Kiln: kilnexec's GPU Compute Time median), throughput = batch / "
                 "median latency. FP32 rows run with TF32 on (PyTorch's allow_tf32, Kiln's default kTF32).")
    roof = result.get("roofline", {})
    if roof:
        parts = []
        if roof.get("gemm_tflops"):
            parts.append(f"FP16 GEMM 8192³ (torch.matmul, cuBLASLt) {roof['gemm_tflops']:.0f} TFLOP/s")
        if roof.get("copy_tbps"):
            parts.append(f"device-to-device copy {roof['copy_tbps']:.2f} TB/s")
        lines += ["", "Roofline, same run: " + "; ".join(parts) + "."]
    lines += ["", "| model | batch | precision | eager ms | torch.compile ms (mode) | Kiln ms | eager | torch.compile "
              "| Kiln | Kiln thr. / faster PyTorch | Kiln lat. / faster PyTorch | GPU MiB eager / compile / Kiln "
              "| Kiln % of GEMM peak | out. err vs FP32 (torch / Kiln) |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    notes = []
    for row in result.get("rows", []):
        name, b, prec = row["model"], row["batch"], row["precision"]
        e, c, k = row.get("eager"), row.get("compile"), row.get("kiln")
        mode = f" ({c['mode']})" if c and c.get("mode") and c.get("median_ms") else ""
        thr, lat = ratios(row)
        peak = ""
        if k and k.get("median_ms") and row.get("flops") and roof.get("gemm_tflops"):
            achieved = row["flops"] * b / (k["median_ms"] * 1e-3) / 1e12
            peak = f"{100.0 * achieved / roof['gemm_tflops']:.1f}%"
        errs = []
        for key in ("torch_err", "kiln_err"):
            v = row.get(key)
            errs.append("–" if v is None else f"{v:.1e}")
        unit = UNIT.get(name, "/s")
        lines.append(f"| {PRETTY.get(name, name)} | {b} | {prec.upper()} | {_ms(e)} | {_ms(c)}{mode} | {_ms(k)} | "
                     f"{_thr(e, b)}{f' {unit}' if e and e.get('median_ms') else ''} | {_thr(c, b)} | {_thr(k, b)} | "
                     f"{'–' if thr is None else f'{thr:.2f}×'} | {'–' if lat is None else f'{lat:.2f}×'} | "
                     f"{_mib(e)} / {_mib(c)} / {_mib(k)} | {peak or '–'} | {' / '.join(errs)} |")
        for what, r in (("eager", e), ("torch.compile", c), ("Kiln", k)):
            if r and (r.get("error") or r.get("na") or r.get("note")):
                notes.append(f"{PRETTY.get(name, name)} b{b} {prec.upper()} {what}: "
                             f"{r.get('error') or r.get('na') or r.get('note')}")
        if row.get("kiln_plain") and row["kiln_plain"].get("median_ms"):
            notes.append(f"{PRETTY.get(name, name)} b{b} {prec.upper()} Kiln without a CUDA graph (one enqueueV3 "
                         f"per query): {row['kiln_plain']['median_ms']:.3f} ms")
    lines += ["", "GPU memory: PyTorch's peak allocated tensors during the run (torch.cuda.max_memory_allocated); "
              "Kiln's device arena + workspace + the plan (weights) copied to the device, from kilnexec's lines; "
              "neither counts the CUDA context. Output error: max |out − out_FP32| / max |out_FP32| at batch 1 "
              "against PyTorch eager FP32 (TF32); target ≤ 1e-2 for FP16. Kiln % of GEMM peak: "
              "2 × MACs of Conv/Gemm/MatMul (bench/flops.py) per second over the FP16 GEMM above."]
    if notes:
        lines += ["", "Notes:"] + [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"
