#!/usr/bin/env python3
"""The spread tables of docs/demo.md from bench/demo-spread.sh's spread.csv files.

Usage: bench/demo-spread-table.py SPREAD.csv [SPREAD.csv ...]
Prints, per measure and bias, the range over every run (kernel x build x seed), the range of the mean over
seeds 1-3 per kernel and build (what the tests assert), and per build the same; plus the per-run table.
"""
import csv
import statistics as st
import sys
from collections import defaultdict

MEASURES = [
    ("accuracy", "accuracy (balanced test)"),
    ("context_effect", "context effect on the confidence"),
    ("outside_relevance", "share of |relevance| outside the object"),
    ("concept_similarity", "concept-head similarity"),
    ("iou_background", "Attention-IoU with the background"),
    ("iou_object", "Attention-IoU with the object"),
]


def main(paths):
    rows = []
    for p in paths:
        rows += list(csv.DictReader(open(p)))
    for r in rows:
        r["build"] = r["run"].split("-OPENBLAS")[0].split("-MKL")[0].rstrip("-")
        r["setting"] = r["run"][len(r["build"]):].strip("-") or "default"
    biases = sorted({r["bias"] for r in rows}, key=float)
    groups = defaultdict(list)  # (build, setting, bias) -> rows
    for r in rows:
        groups[(r["build"], r["setting"], r["bias"])].append(r)
    print(f"{len(rows)} runs; builds: {', '.join(sorted({r['build'] for r in rows}))}\n")
    print("| measure | bias | every run: min .. max | mean over seeds 1-3, per kernel and build: min .. max |")
    print("|---|---|---|---|")
    for key, label in MEASURES:
        for b in biases:
            vals = [float(r[key]) for r in rows if r["bias"] == b]
            means = [st.mean(float(r[key]) for r in g) for (bb, s, gb), g in groups.items() if gb == b and len(g) == 3]
            if not vals:
                continue
            mr = f"{min(means):.3f} .. {max(means):.3f} ({len(means)} triples)" if means else "-"
            print(f"| {label} | {b} | {min(vals):.3f} .. {max(vals):.3f} ({len(vals)} runs) | {mr} |")
    # the differences the tests assert: mean(0.95) - mean(0.5) per kernel and build
    print("\n| difference of the means over seeds 1-3 (per kernel and build) | min | max |")
    print("|---|---|---|")
    for key, label in MEASURES:
        for hi, lo in (("0.95", "0.5"), ("0.95", "0.8"), ("0.8", "0.5")):
            d = []
            for (bb, s, gb), g in groups.items():
                if gb != hi or len(g) != 3:
                    continue
                other = groups.get((bb, s, lo))
                if other and len(other) == 3:
                    d.append(st.mean(float(r[key]) for r in g) - st.mean(float(r[key]) for r in other))
            if d:
                print(f"| {label}: {hi} - {lo} | {min(d):+.3f} | {max(d):+.3f} |")
    print("\n| build | kernel | bias | seed | " + " | ".join(k for k, _ in MEASURES) + " |")
    print("|---|---|---|---|" + "---|" * len(MEASURES))
    for r in sorted(rows, key=lambda r: (r["build"], r["setting"], float(r["bias"]), int(r["seed"]))):
        print(f"| {r['build']} | {r['setting']} | {r['bias']} | {r['seed']} | " + " | ".join(f"{float(r[k]):.3f}" for k, _ in MEASURES) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
