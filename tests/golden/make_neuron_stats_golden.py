#!/usr/bin/env python3
"""SciPy / statsmodels goldens for BiasScope's per-neuron statistics (tests/core/analysis/TestNeuronStats.cpp).

  - bootstrap: scipy.stats.bootstrap (methods 'percentile' and 'BCa') on one-sample, paired and two-sample
    statistics, with the resample indices scipy drew (np.random.default_rng(seed).integers(0, n, (B, n)) per
    sample, in sample order: what scipy does with batch=None), so BiasScope computes its intervals from the
    same resamples and the formulas are compared exactly;
  - per-neuron tests: scipy.stats.ttest_rel / ttest_ind (Student for equal sizes, Welch otherwise) on every
    column of a drawn [images x neurons] matrix pair, then statsmodels multipletests(method='fdr_bh') over all
    columns of the family;
  - per-image means of top-k values: the same t-tests on one value per image.
Writes tests/data/neuron-stats-golden.json. Versions: tests/golden/requirements.txt; CI regenerates the file.
Usage: tests/golden/make_neuron_stats_golden.py [OUT.json]
"""
import json
import os
import sys
import warnings

import numpy as np
import scipy
import scipy.stats as st
import statsmodels
from statsmodels.stats.multitest import multipletests

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "data", "neuron-stats-golden.json")


def mean(x, axis=-1):
    return np.mean(x, axis=axis)


def d_avg(x, y, axis=-1):  # paired effect size (pingouin's d_avg, signed)
    return (np.mean(x, axis=axis) - np.mean(y, axis=axis)) / np.sqrt((np.var(x, ddof=1, axis=axis) + np.var(y, ddof=1, axis=axis)) / 2)


def mean_difference(x, y, axis=-1):
    return np.mean(x, axis=axis) - np.mean(y, axis=axis)


def cohen_d(x, y, axis=-1):  # pooled-sd Cohen d (signed)
    nx, ny = x.shape[axis], y.shape[axis]
    pooled = ((nx - 1) * np.var(x, ddof=1, axis=axis) + (ny - 1) * np.var(y, ddof=1, axis=axis)) / (nx + ny - 2)
    return (np.mean(x, axis=axis) - np.mean(y, axis=axis)) / np.sqrt(pooled)


STATS = {"mean": mean, "d_avg": d_avg, "mean_difference": mean_difference, "cohen_d": cohen_d}


def bootstrap_case(name, samples, paired, statistic, resamples, confidence, seed):
    rng = np.random.default_rng(seed)
    if paired:
        indices = [rng.integers(0, len(samples[0]), (resamples, len(samples[0])))]
    else:
        indices = [rng.integers(0, len(s), (resamples, len(s))) for s in samples]
    out = {"name": name, "statistic": statistic, "paired": paired, "samples": [list(map(float, s)) for s in samples],
           "confidence": confidence, "indices": [i.tolist() for i in indices]}
    for method in ("percentile", "BCa"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # degenerate cases: scipy warns and returns NaN, which is the golden
            r = st.bootstrap(tuple(np.asarray(s) for s in samples), STATS[statistic], paired=paired, vectorized=True, n_resamples=resamples,
                             batch=None, confidence_level=confidence, method=method, rng=np.random.default_rng(seed))
        ci = r.confidence_interval
        out[method] = [None if np.isnan(ci.low) else float(ci.low), None if np.isnan(ci.high) else float(ci.high)]
    out["estimate"] = float(STATS[statistic](*[np.asarray(s) for s in samples]))
    return out


def bootstrap_cases():
    rng = np.random.default_rng(20261207)
    cases = []
    cases.append(bootstrap_case("normal mean", [rng.normal(0.3, 1.0, 20)], False, "mean", 999, 0.95, 1))
    cases.append(bootstrap_case("skewed mean", [rng.exponential(2.0, 25)], False, "mean", 1500, 0.9, 2))
    x = rng.normal(0, 1, 18)
    cases.append(bootstrap_case("paired d_avg", [x, x + rng.normal(0.4, 0.7, 18)], True, "d_avg", 1200, 0.95, 3))
    cases.append(bootstrap_case("two-sample mean difference", [rng.normal(0, 1, 15), rng.normal(0.5, 2, 22)], False, "mean_difference", 999, 0.95, 4))
    cases.append(bootstrap_case("two-sample Cohen d", [rng.normal(0, 1, 12), rng.normal(1, 1.5, 12)], False, "cohen_d", 1000, 0.99, 5))
    cases.append(bootstrap_case("constant sample", [np.full(10, 0.25)], False, "mean", 500, 0.95, 6))
    cases.append(bootstrap_case("ties", [np.round(rng.normal(0, 1, 16) * 2) / 2], False, "mean", 800, 0.95, 7))
    return cases


def fdr(p):
    p = np.asarray(p, dtype=float)
    q = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    if ok.any():
        q[ok] = multipletests(p[ok], method="fdr_bh")[1]
    return [None if np.isnan(v) else float(v) for v in q]


def f32(a):
    return a.astype(np.float32).astype(np.float64)


def neuron_cases():
    rng = np.random.default_rng(7)
    cases = []
    n, m = 14, 40
    base = rng.normal(0, 1, (n, m))
    x = base + rng.normal(0, 0.5, (n, m))
    y = base + rng.normal(0, 0.5, (n, m)) + np.where(np.arange(m) < 6, 0.8, 0.0)
    y[:, 7] = x[:, 7]  # no difference at all: invalid (NaN p), left out of BH
    x, y = f32(x), f32(y)  # BiasScope stores relevance as float32: the same inputs exactly
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = st.ttest_rel(x, y, axis=0)
    p = [None if np.isnan(v) else float(v) for v in r.pvalue]
    t = [None if np.isnan(v) else float(v) for v in r.statistic]
    cases.append({"kind": "paired", "x": x.tolist(), "y": y.tolist(), "t": t, "p": p, "q": fdr(r.pvalue)})
    for ny in (11, 9):  # equal sizes: Student; else Welch (the published rule)
        xx = rng.normal(0, 1, (11, m))
        yy = rng.normal(0, 1.3, (ny, m)) + np.where(np.arange(m) % 5 == 0, 2.5, 0.0)
        xx, yy = f32(xx), f32(yy)
        r = st.ttest_ind(xx, yy, axis=0, equal_var=(ny == 11))
        cases.append({"kind": "independent", "x": xx.tolist(), "y": yy.tolist(), "t": r.statistic.tolist(), "p": r.pvalue.tolist(), "q": fdr(r.pvalue)})
    return cases


def main():
    doc = {"about": f"scipy {scipy.__version__}, statsmodels {statsmodels.__version__}, numpy {np.__version__} "
                    "(tests/golden/make_neuron_stats_golden.py)",
           "bootstrap": bootstrap_cases(), "neuron_tests": neuron_cases()}
    with open(OUT, "w") as f:
        json.dump(doc, f)
    print(f"wrote {OUT}: {len(doc['bootstrap'])} bootstrap cases, {len(doc['neuron_tests'])} per-neuron families; {doc['about']}")


if __name__ == "__main__":
    main()
