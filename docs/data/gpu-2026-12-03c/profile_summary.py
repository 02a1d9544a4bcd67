"""Per-tactic and per-layer totals of a kilnexec --exportProfile run, with each layer's tactic and
shapes from --exportLayerInfo: python3 profile_summary.py PROFILE.json LAYERS.json"""
import collections
import json
import re
import sys

rows = [r for r in json.load(open(sys.argv[1])) if "name" in r]
info = {}
for line in json.load(open(sys.argv[2]))["Layers"]:
    m = re.match(r"^(.*) \[([^\]]+)\] tactic=(\S*) ?(.*)$", line) if isinstance(line, str) else None
    if m:
        info[m.group(1)] = (m.group(3), m.group(4))
agg = collections.defaultdict(lambda: [0, 0.0])
for r in rows:
    t = info.get(r["name"], ("?", ""))[0]
    agg[t][0] += 1
    agg[t][1] += r["medianMs"]
total = sum(v[1] for v in agg.values())
print("per tactic (sum of per-layer medians %.3f ms):" % total)
for k, v in sorted(agg.items(), key=lambda x: -x[1][1])[:15]:
    print("  %-40s %3d layers %8.3f ms %5.1f%%" % (k, v[0], v[1], 100 * v[1] / total))
print("slowest layers:")
for r in sorted(rows, key=lambda r: -r["medianMs"])[:16]:
    t, rest = info.get(r["name"], ("?", ""))
    print("  %8.3f ms  %-24s %-32s %s" % (r["medianMs"], t, r["name"], rest[:110]))
