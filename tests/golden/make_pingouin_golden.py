#!/usr/bin/env python3
"""pingouin.ttest goldens for BiasScope's t-tests (tests/core/analysis/TestStatistics.cpp, equalsPingouin).

pingouin is what the published pipeline calls: ttest(x, y, paired=True) for the paired tests and
ttest(x, y, paired=False) (correction='auto': Student for equal sizes, Welch otherwise) for the independent
ones; the one-sample case is ttest(x, 0). This runs pingouin itself on
  - every vector pair of ../shared/data/stats-golden.json (made with SciPy / statsmodels), and
  - vectors drawn here (seeded): paired, equal-size and unequal-size independent, one-sample, with
    ties, a constant shift, tiny and huge scales and n = 2,
and writes T, dof, p-val and |cohen-d| as pingouin reports them, with the inputs, to
tests/data/pingouin-golden.json. Versions: tests/golden/requirements.txt. CI regenerates the file (.ci/run).
Usage: tests/golden/make_pingouin_golden.py [OUT.json]
"""
import json
import os
import sys

import numpy as np
import pingouin

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.path.join(HERE, "..", "..", "..", "shared", "data", "stats-golden.json")
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "data", "pingouin-golden.json")


def col(df, *names):
    for n in names:  # pingouin 0.5 spells 'p-val' / 'cohen-d', 0.7 'p_val' / 'cohen_d'
        if n in df.columns:
            return float(df[n].iloc[0])
    raise KeyError(names)


def run(kind, x, y):
    x = np.asarray(x, dtype=np.float64)
    if kind == "one_sample":
        r = pingouin.ttest(x, 0.0)
    else:
        r = pingouin.ttest(x, np.asarray(y, dtype=np.float64), paired=(kind == "paired"))
    return {"t": col(r, "T"), "dof": col(r, "dof"), "p": col(r, "p_val", "p-val"), "cohen_d": col(r, "cohen_d", "cohen-d")}


def drawn():
    rng = np.random.default_rng(20261201)
    cases = []
    for i in range(60):
        n = int(rng.integers(2, 300))
        scale = float(10 ** rng.uniform(-6, 6))
        x = rng.normal(rng.normal(0, 1), 1, n) * scale
        kind = ("paired", "independent", "independent_unequal", "one_sample")[i % 4]
        if kind == "paired":
            y = x + rng.normal(rng.normal(0, 0.3), 0.5, n) * scale
        elif kind == "independent":
            y = rng.normal(rng.normal(0, 1), rng.uniform(0.2, 3), n) * scale
        elif kind == "independent_unequal":
            y = rng.normal(rng.normal(0, 1), rng.uniform(0.2, 3), int(rng.integers(2, 300))) * scale
        else:
            y = None
        if i % 10 == 9:  # ties: values on a coarse grid
            x = np.round(x / scale * 2) / 2 * scale
            if y is not None:
                y = np.round(y / scale * 2) / 2 * scale
        cases.append(("independent" if kind == "independent_unequal" else kind, x.tolist(), None if y is None else y.tolist()))
    return cases


def main():
    cases = []
    if os.path.exists(SHARED):
        for c in json.load(open(SHARED))["tests"]:
            cases.append((c["kind"], c["x"], c.get("y")))
    cases += drawn()
    out = []
    for kind, x, y in cases:
        out.append({"kind": kind, "x": x, "y": y, "pingouin": run(kind, x, y)})
    doc = {"about": f"pingouin {pingouin.__version__} ttest on {len(out)} vector pairs (tests/golden/make_pingouin_golden.py)", "cases": out}
    with open(OUT, "w") as f:
        json.dump(doc, f)
    print(f"wrote {OUT}: {len(out)} cases, pingouin {pingouin.__version__}")


if __name__ == "__main__":
    main()
