"""Markdown for bench/run_cpu.py's results (docs/benchmarks.md)."""
import re

PEERS = ("ort", "openvino")
NAMES = {"kiln": "Kiln", "ort": "ONNX Runtime", "openvino": "OpenVINO", "kiln_bf16": "Kiln BF16",
         "openvino_bf16": "OpenVINO BF16", "kiln_fp16": "Kiln FP16", "openvino_fp16": "OpenVINO FP16"}
# Reduced precisions: suffix -> (label, OpenVINO's hint, what Kiln's flag runs in it).
REDUCED = {"bf16": ("BF16", "bf16", "BF16 oneDNN convolution / matmul tactics"),
           "fp16": ("FP16", "f16", "FP16 convolution / matmul tactics on AVX512-FP16")}


class Notes:
    """Numbered notes for the reasons a cell is n/a, so the tables stay narrow."""

    def __init__(self):
        self.items = []

    def ref(self, text):
        if text not in self.items:
            self.items.append(text)
        return f"[{self.items.index(text) + 1}]"


def _cell(s, notes, what="lat"):
    if not s:
        return "-"
    if s.get("status") == "n/a":
        return "n/a " + notes.ref(s.get("reason") or "no reason given")
    mark = " **INVALID**" if s.get("status") == "INVALID" else ""
    if what == "lat":
        return f"{s['median_ms']:.2f} / {s['p90_ms']:.2f}{mark}"
    if what == "gflops":
        frac = f" ({100 * s['peak_frac']:.0f}%)" if s.get("peak_frac") else ""
        return f"{s['gflops']:.1f}{frac}{mark}"
    if what == "tput":
        return f"{s['throughput']:.1f}{mark}"
    if what == "rss":
        return (f"{s['peak_rss_mib']:.0f} (+{s['peak_rss_mib'] - s['rss_start_mib']:.0f}) / "
                f"{s.get('loaded_rss_mib', 0):.0f}")
    raise ValueError(what)


def _ratio(res, peer):
    k, p = res.get("kiln", {}), res.get(peer, {})
    if k.get("status") != "ok" or p.get("status") != "ok":
        return None
    return k["median_ms"] / p["median_ms"]


def _best_peer(res):
    peers = [res[p] for p in PEERS if res.get(p, {}).get("status") == "ok"]
    return min(peers, key=lambda s: s["median_ms"]) if peers else None


def _fmt_ratio(r):
    return "-" if r is None else f"{r:.2f}x"


def _check(res, rts=("kiln", "ort", "openvino")):
    bad = [f"{NAMES[rt]} INVALID (err {s['err']:.2g} of range)" for rt, s in res.items()
           if s.get("status") == "INVALID" and rt in rts]
    checked = [rt for rt, s in res.items() if s.get("valid") is True and rt != "ort" and rt in rts]
    if bad:
        return "; ".join(bad)
    return "ok" if checked else "-"


def render(r):
    notes = Notes()
    m, peak, v = r["machine"], r["peak"], r["versions"]
    nmax = str(max(r["threads"]))
    out = ["# CPU benchmarks", "",
           "Made by `bench/run_cpu.py` (issue #6): Kiln, ONNX Runtime and OpenVINO on the same machine, in one run,",
           "with the same inputs. Regenerate with the command below; this file is the script's output.", ""]
    if r.get("smoke"):
        out += ["**Smoke run** (tiny models, 3 runs): checks the harness; the numbers mean nothing.", ""]
    if r.get("quick"):
        out += ["**Quick run** (10 timed runs, no batch-8 rows): indicative only.", ""]
    out += ["## How to run", "",
            "```sh",
            "bash scripts/setup.sh        # deps (onnxruntime, openvino pinned) and build/",
            "ninja -C build kiln_time kiln_peak_flops kilnexec",
            "python3 bench/run_cpu.py --kiln-time build/bench/kiln_time --peak-flops build/bench/kiln_peak_flops \\",
            "    --kilnexec build/tools/kilnexec/kilnexec --doc docs/benchmarks.md",
            "```", "",
            "`--models a,b` picks models (default: ResNet-50, BERT-base, DistilBERT, CRNN, YOLO at batch 1, and "
            "all but CRNN (whose batch is fixed at 1) at batch 8), `--threads 1,2`, `--iters`, `--quick` (10 runs, no "
            "batch 8), `--bf16` (adds Kiln `--bf16` and OpenVINO BF16, checked at 2e-2 of the range), `--fp16` (the same "
            "for Kiln `--fp16` and OpenVINO f16), `--smoke` (tiny "
            "models: the ctest `bench_smoke`, label `bench`). Generated models and plans "
            "are cached in `--workdir` (default build/bench-work); results also go to `<workdir>/results.json`. "
            "Close other work first: the numbers are only as quiet as the machine.", ""]
    la0, la1 = r["load_avg_start"], r["load_avg_end"]
    isa = peak.get("isa", {})
    out += ["## Machine, versions, method", "",
            f"- CPU: {m['model']}, {m['cores']} cores; ISA: {' '.join(m['flags']) or 'unknown'}."
            + ("" if any("bf16" in f for f in m["flags"]) else " No AVX512_BF16/AMX is exposed, so there are no BF16 rows."),
            f"- FP32 FMA peak (`kiln_peak_flops`, best of 100 bursts of 5 ms): "
            + "; ".join(f"{k}: {val['1']:.1f} GFLOP/s on 1 thread, {val.get(nmax, val['1']):.1f} on {nmax}"
                        for k, val in isa.items()) + f". Efficiency below is against {peak['best_isa']}"
            + (f"; {peak['note']}." if peak.get("note") else "."),
            f"- Load average (1/5/15 min) at the start: {la0[0]:.2f} / {la0[1]:.2f} / {la0[2]:.2f}; at the end: "
            f"{la1[0]:.2f} / {la1[1]:.2f} / {la1[2]:.2f}."
            + (" **The machine was busy with other work (load above its core count): every number here is "
               "noisy and the peak is underestimated; ratios measured in the same round are the most "
               "trustworthy part.**" if max(la0[0], la1[0]) > m["cores"] else ""),
            f"- Versions: Kiln {v.get('kiln_commit')}, onnxruntime {v.get('onnxruntime')}, openvino {v.get('openvino')}, "
            f"numpy {v.get('numpy')}, onnx {v.get('onnx')}, Python {v.get('python')}.",
            f"- Threads: {', '.join(map(str, r['threads']))}. Timed runs per runtime: {r['iters']} at batch 1 "
            f"({r['b8_iters']} at batch 8, with {nmax} threads only), in {r['rounds']} interleaved rounds; "
            f"total time {r['seconds'] / 60:.1f} min.",
            "- Command:", "", "```sh", r["command"], "```", "",
            "Method: each runtime runs in its own process (so its peak RSS is its own) and is timed in-process "
            "around one inference call: Kiln `executeV2` (bench/kiln_time.cc, public API only), ONNX Runtime "
            "`run_with_iobinding` (ORT_ENABLE_ALL, intra-op threads = N, inter-op 1, sequential), OpenVINO "
            "`InferRequest.infer` (CPU, PERFORMANCE_HINT=LATENCY, INFERENCE_NUM_THREADS=N, "
            "INFERENCE_PRECISION_HINT=f32). Kiln's plan is built once at the largest thread count (cold, then "
            "with the warm timing cache; the warm plan is timed). Every output is compared with ONNX Runtime's "
            f"at the same thread count: max |err| <= {r['tolerance']:g} x the reference output's range, else "
            "**INVALID**. GFLOP = 2 x MACs of Conv/Gemm/MatMul from the ONNX graph. Latency cells are "
            "median / p90 in ms; ratios are Kiln / peer on medians (< 1 means Kiln is faster).", ""]

    b1 = [row for row in r["rows"] if row["batch"] < 8 or r.get("smoke")]
    b8 = [row for row in r["rows"] if row["batch"] >= 8 and not r.get("smoke")]
    out += ["## Latency, FP32", "",
            "| model | batch | GFLOP | threads | Kiln ms | ONNX Runtime ms | OpenVINO ms | Kiln / ORT | Kiln / OpenVINO "
            "| Kiln / faster peer | outputs |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for row in b1:
        for t, res in row["by_threads"].items():
            best = _best_peer(res)
            kb = (res["kiln"]["median_ms"] / best["median_ms"]) if best and res.get("kiln", {}).get("status") == "ok" else None
            out.append(f"| {row['label']} | {row['batch']} | {row['gflop']:.2f} | {t} | {_cell(res.get('kiln'), notes)} | "
                       f"{_cell(res.get('ort'), notes)} | {_cell(res.get('openvino'), notes)} | "
                       f"{_fmt_ratio(_ratio(res, 'ort'))} | {_fmt_ratio(_ratio(res, 'openvino'))} | {_fmt_ratio(kb)} | "
                       f"{_check(res)} |")
    for name, why in r.get("not_run", {}).items():
        out.append(f"| {name} | 1 | - | - | not run here: {why} | | | | | | |")
    for prec in REDUCED:
        out += reduced_section(r, b1, notes, prec)
    out += ["", "## Achieved GFLOP/s (share of the measured FMA peak at that thread count)", "",
            "| model | batch | threads | Kiln | ONNX Runtime | OpenVINO |", "| --- | --- | --- | --- | --- | --- |"]
    for row in r["rows"]:
        for t, res in row["by_threads"].items():
            out.append(f"| {row['label']} | {row['batch']} | {t} | " +
                       " | ".join(_cell(res.get(rt), notes, "gflops") for rt in ("kiln", "ort", "openvino")) + " |")
    if b8:
        out += ["", f"## Throughput at batch 8 (threads: {nmax}; inferences/s = 8 / median latency)", "",
                "| model | Kiln ms | ONNX Runtime ms | OpenVINO ms | Kiln /s | ONNX Runtime /s | OpenVINO /s "
                "| Kiln / faster peer (throughput) | outputs |",
                "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        for row in b8:
            for t, res in row["by_threads"].items():
                best = _best_peer(res)
                k = res.get("kiln", {})
                rel = f"{k['throughput'] / best['throughput']:.2f}x" if best and k.get("status") == "ok" else "-"
                out.append(f"| {row['label']} | " + " | ".join(_cell(res.get(rt), notes) for rt in ("kiln", "ort", "openvino"))
                           + " | " + " | ".join(_cell(res.get(rt), notes, "tput") for rt in ("kiln", "ort", "openvino"))
                           + f" | {rel} | {_check(res)} |")
    out += ["", f"## Kiln build time and peak memory (threads: {nmax})", "",
            "Build: parse excluded, `buildSerializedNetwork` only; cold = empty timing cache, warm = the cache the "
            "cold build wrote; each build process starts after a sync(), so the page cache's writeback of the "
            "plan the previous one wrote (hundreds of MB for the transformers) does not run beside it. RSS cells: the process's peak RSS in MiB, in parentheses what it grew by after "
            "the process started (for the Python peers, start = interpreter + numpy loaded, before the runtime "
            "is imported), then the RSS once loaded and run once. Kiln reads the plan file through "
            "`deserializeCudaEngine(IStreamReaderV2&)` straight into the engine's buffer, so it holds one copy "
            "of the plan.", "",
            "| model | batch | cold build s | warm build s | cold / warm | plan MiB | Kiln RSS | ONNX Runtime RSS "
            "| OpenVINO RSS |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for row in r["rows"]:
        b = row.get("build", {})
        res = row["by_threads"].get(nmax) or next(iter(row["by_threads"].values()), {})
        if "cold" in b and "warm" in b:
            c, w = b["cold"]["build_s"], b["warm"]["build_s"]
            bc = f"{c:.2f} | {w:.2f} | {c / w:.1f}x" if w > 0 else f"{c:.2f} | {w:.2f} | -"
        else:
            bc = "n/a | n/a | -"
        plan = f"{row['plan_mib']:.1f}" if "plan_mib" in row else "-"
        out.append(f"| {row['label']} | {row['batch']} | {bc} | {plan} | " +
                   " | ".join(_cell(res.get(rt), notes, "rss") for rt in ("kiln", "ort", "openvino")) + " |")
    out += targets(r)
    for p in r.get("profiles") or []:
        out += profile_section(p)
    if notes.items:
        out += ["", "## Notes", ""] + [f"{i + 1}. {t}" for i, t in enumerate(notes.items)]
    return "\n".join(out) + "\n"


def targets(r):
    """Issue #6's FP32 targets, each with the measured value, so a miss says by how much."""
    nmax = str(max(r["threads"]))
    lines = ["", f"## Issue #6 targets (FP32, threads: {nmax})", "",
             "| model | target | measured | met |", "| --- | --- | --- | --- |"]
    for row in r["rows"]:
        res = row["by_threads"].get(nmax, {})
        k, best = res.get("kiln", {}), _best_peer(res)
        if row["batch"] < 8 and best and k.get("status") == "ok":
            goal = 0.85 if row["transformer"] else 1.0
            got = k["median_ms"] / best["median_ms"]
            lines.append(f"| {row['label']} | latency <= {goal:.2f}x faster peer | {got:.2f}x | "
                         f"{'yes' if got <= goal else f'no, {got / goal:.1f}x over'} |")
        if row["batch"] >= 8 and best and k.get("status") == "ok":
            got = k["throughput"] / best["throughput"]
            lines.append(f"| {row['label']} b8 | throughput >= 1.1x faster peer | {got:.2f}x | "
                         f"{'yes' if got >= 1.1 else f'no, {1.1 / got:.1f}x short'} |")
        o = res.get("ort", {})
        if k.get("status") == "ok" and o.get("status") == "ok":
            lines.append(f"| {row['label']} b{row['batch']} | peak RSS <= ONNX Runtime's | {k['peak_rss_mib']:.0f} vs "
                         f"{o['peak_rss_mib']:.0f} MiB | {'yes' if k['peak_rss_mib'] <= o['peak_rss_mib'] else 'no'} |")
        b = row.get("build", {})
        if "cold" in b and "warm" in b and b["warm"]["build_s"] > 0:
            got = b["cold"]["build_s"] / b["warm"]["build_s"]
            lines.append(f"| {row['label']} b{row['batch']} | warm-cache build >= 5x faster than cold | {got:.1f}x | "
                         f"{'yes' if got >= 5 else 'no'} |")
    # The BF16 targets; FP16 (where the CPU has AVX512-FP16 and no fast BF16) is held to the same.
    measured = False
    for prec, (label, _, _) in REDUCED.items():
        rows = [(row, res) for row in r["rows"] for t, res in row["by_threads"].items()
                if t == nmax and row["batch"] < 8 and f"kiln_{prec}" in res]
        measured = measured or bool(rows)
        for row, res in rows:
            k, best, ovr = res.get(f"kiln_{prec}", {}), _best_peer(res), res.get(f"openvino_{prec}", {})
            if k.get("status") != "ok":
                continue
            if best:
                got = k["median_ms"] / best["median_ms"]
                lines.append(f"| {row['label']} {label} | latency <= 0.60x faster peer's FP32 | {got:.2f}x | "
                             f"{'yes' if got <= 0.6 else f'no, {got / 0.6:.1f}x over'} |")
            if ovr.get("status") == "ok":
                got = k["median_ms"] / ovr["median_ms"]
                lines.append(f"| {row['label']} {label} | latency <= 1.0x OpenVINO {label} | {got:.2f}x | "
                             f"{'yes' if got <= 1.0 else f'no, {got:.1f}x over'} |")
            if k.get("err") is not None:
                tol = r.get("bf16_tolerance", 2e-2)
                lines.append(f"| {row['label']} {label} | outputs within {tol:g} of the range | {k['err']:.2g} | "
                             f"{'yes' if k['err'] <= tol else 'no'} |")
    if not measured:
        lines += ["", "BF16 / FP16 targets: not measured in this run (`--bf16` / `--fp16` add Kiln and OpenVINO in "
                  "that precision)."]
    return lines


def reduced_section(r, rows, notes, prec):
    """Kiln --bf16 / --fp16 and OpenVINO in that precision beside the FP32 peers (run_cpu.py --bf16 / --fp16)."""
    label, hint, what = REDUCED[prec]
    kiln, ov = f"kiln_{prec}", f"openvino_{prec}"
    rows = [row for row in rows if any(kiln in res for res in row["by_threads"].values())]
    if not rows:
        return []
    out = ["", f"## Latency, {label}", "",
           f"Kiln built with `--{prec}` ({what} timed against the FP32 ones) and "
           f"OpenVINO with INFERENCE_PRECISION_HINT={hint}, beside the FP32 peers; {label} outputs are checked against "
           f"ONNX Runtime's FP32 at {r.get('bf16_tolerance', 2e-2):g} of the output range (err column: max |err| / "
           "range).", "",
           f"| model | batch | threads | Kiln {label} ms | OpenVINO {label} ms | Kiln FP32 ms | faster FP32 peer ms "
           f"| Kiln {label} / faster FP32 peer | Kiln {label} / OpenVINO {label} | Kiln {label} err | outputs |",
           "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for row in rows:
        for t, res in row["by_threads"].items():
            k, ovr, best = res.get(kiln, {}), res.get(ov, {}), _best_peer(res)
            ok = k.get("status") == "ok"
            vs_fp32 = k["median_ms"] / best["median_ms"] if ok and best else None
            vs_ov = k["median_ms"] / ovr["median_ms"] if ok and ovr.get("status") == "ok" else None
            err = f"{k['err']:.2g}" if k.get("err") is not None else "-"
            out.append(f"| {row['label']} | {row['batch']} | {t} | {_cell(k, notes)} | {_cell(ovr, notes)} | "
                       f"{_cell(res.get('kiln'), notes)} | {_cell(best, notes)} | {_fmt_ratio(vs_fp32)} | "
                       f"{_fmt_ratio(vs_ov)} | {err} | {_check(res, (kiln, ov))} |")
    return out


INFO = re.compile(r"^(?P<name>.*) \[(?P<op>[^\]]+)\] tactic=(?P<tactic>\S*) inputs=\((?P<ins>.*)\) "
                  r"outputs=\((?P<outs>.*)\)$")


def profile_section(p):
    if not p:
        return []
    if "error" in p:
        return ["", f"## Where Kiln is slowest: {p['model']}", "", f"kilnexec's profile failed: {p['error']}"]
    info = {}
    for line in p.get("layer_info", []):
        mt = INFO.match(line) if isinstance(line, str) else None
        if mt:
            info[mt["name"]] = mt
    def med(e):
        return e.get("medianMs", e.get("averageMs", 0))

    layers = sorted(p["layers"], key=lambda e: -med(e))
    total = sum(med(e) for e in layers) or 1
    by_tactic = {}
    for e in layers:
        mt = info.get(e["name"])
        key = mt["tactic"] if mt else "?"
        agg = by_tactic.setdefault(key, [0.0, 0])
        agg[0] += med(e)
        agg[1] += 1
    out = ["", f"## Where Kiln is slowest: {p.get('label', p['model'])}, batch {p.get('batch', 1)} "
           f"({p['ratio']:.2f}x the faster peer, threads: {p['threads']})", "",
           "Per-layer profile of the benchmarked plan (`kilnexec --loadEngine --exportProfile --exportLayerInfo`, "
           f"20 runs, per-layer medians; their sum is {total:.1f} ms).", "",
           "| tactic | layers | ms | share |", "| --- | --- | --- | --- |"]
    for tac, (ms, n) in sorted(by_tactic.items(), key=lambda kv: -kv[1][0]):
        out.append(f"| {tac} | {n} | {ms:.2f} | {100 * ms / total:.1f}% |")
    out += ["", "Slowest layers:", "", "| layer | op | tactic | output | ms | share |", "| --- | --- | --- | --- | --- | --- |"]
    for e in layers[:12]:
        mt = info.get(e["name"])
        op, tac, outs = (mt["op"], mt["tactic"], mt["outs"]) if mt else ("?", "?", "?")
        out.append(f"| {e['name']} | {op} | {tac} | {outs} | {med(e):.2f} | {100 * med(e) / total:.1f}% |")
    return out
