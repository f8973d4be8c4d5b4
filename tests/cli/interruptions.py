#!/usr/bin/env python3
"""Kill a run inside every write window, resume it, and compare byte for byte (CTest `cli.interruptions`).

BIASSCOPE_FAULT_INJECT="N:before-rename" makes the Nth atomic write of a process end it as SIGKILL would
(exit 137, no cleanup) with its temporary complete but not renamed; "N:after-rename" right after the Nth file
is in place (core/io/AtomicFile.cpp). For `study run`, `aiou score` and `train`, every N of both kinds is tried:
the killed run, then the same command again without the fault, must leave exactly the files of one
uninterrupted run (the same bytes, except where a file holds wall times: the columns or fields named below),
and no temporaries.
Usage: interruptions.py --cli BIASSCOPE_CLI --data tests/data --work DIR
"""
import argparse
import csv
import io
import json
import os
import shutil
import subprocess
import sys

TIMED_JSON_FIELDS = {"seconds", "images_per_s", "feature_cache_seconds"}
TIMED_CSV_COLUMNS = {"seconds", "images_per_s"}


def files(root):
    out = {}
    for d, _, fs in os.walk(root):
        for f in fs:
            p = os.path.join(d, f)
            rel = os.path.relpath(p, root)
            if rel.startswith("tensorboard") or "/tensorboard/" in rel:
                continue  # TensorBoard event files carry wall times by design
            out[rel] = p
    return out


def strip_timed(obj):
    if isinstance(obj, dict):
        return {k: strip_timed(v) for k, v in obj.items() if k not in TIMED_JSON_FIELDS}
    if isinstance(obj, list):
        return [strip_timed(v) for v in obj]
    return obj


def comparable(path):
    data = open(path, "rb").read()
    if path.endswith(".json"):
        try:
            return json.dumps(strip_timed(json.loads(data)), sort_keys=True).encode()
        except ValueError:
            return data
    if path.endswith("metrics.csv"):
        rows = list(csv.DictReader(io.StringIO(data.decode())))
        return json.dumps([{k: v for k, v in r.items() if k not in TIMED_CSV_COLUMNS} for r in rows]).encode()
    return data


class Interruptions:
    def __init__(self, cli, data, work):
        self.cli, self.data, self.work = cli, os.path.abspath(data), os.path.abspath(work)

    def run(self, args, fault=None, check=True):
        env = dict(os.environ, OMP_NUM_THREADS="1", BIASSCOPE_CACHE_DIR=os.path.join(self.work, "cache"))
        env.pop("BIASSCOPE_FAULT_INJECT", None)
        if fault:
            env["BIASSCOPE_FAULT_INJECT"] = fault
        r = subprocess.run([self.cli] + args, capture_output=True, text=True, errors="replace", env=env, timeout=600)
        if check and r.returncode != 0:
            raise SystemExit(f"failed ({r.returncode}): {' '.join(args)}\n{r.stdout}\n{r.stderr}")
        return r

    def scenario(self, name, make_args):
        """make_args(out) -> argv. Baseline, then every kill point of both kinds, each resumed."""
        base = os.path.join(self.work, name, "baseline")
        self.run(make_args(base))
        want = {rel: comparable(p) for rel, p in files(base).items()}
        failures, tried = [], 0
        for phase in ("before-rename", "after-rename"):
            n = 1
            while True:
                out = os.path.join(self.work, name, f"{phase}-{n}")
                r = self.run(make_args(out), fault=f"{n}:{phase}", check=False)
                if r.returncode == 0:
                    shutil.rmtree(out)
                    break  # the run makes fewer writes than n: every window of this kind was tried
                if r.returncode != 137:
                    failures.append(f"{name} {phase} {n}: the faulted run exited {r.returncode}: {r.stderr.strip()[-300:]}")
                    break
                self.run(make_args(out))
                got = files(out)
                tmp = [rel for rel in got if ".tmp-" in rel]
                if tmp:
                    failures.append(f"{name} {phase} {n}: temporaries left after the resume: {tmp}")
                missing = sorted(set(want) - set(got))
                extra = sorted(set(got) - set(want) - set(tmp))
                differ = sorted(rel for rel in set(want) & set(got) if comparable(got[rel]) != want[rel])
                if missing or extra or differ:
                    failures.append(f"{name} {phase} {n}: missing {missing[:4]}, extra {extra[:4]}, different {differ[:4]}")
                shutil.rmtree(out)
                tried += 1
                n += 1
        print(f"{name}: {tried} interruptions resumed, {len(failures)} differ from the uninterrupted run")
        return failures

    def main(self):
        shutil.rmtree(self.work, ignore_errors=True)
        os.makedirs(self.work)
        vit, img = os.path.join(self.data, "tiny-vit"), os.path.join(self.data, "golden-image.png")
        imgs = os.path.join(self.work, "imgs")
        os.makedirs(imgs)
        for i in range(3):
            shutil.copy(img, os.path.join(imgs, f"img{i}.png"))
        study = {"name": "kill", "heads": [{"name": "cls", "path": vit}],
                 "targets": [{"name": "t0", "head": "cls", "class": 0}, {"name": "t1", "head": "cls", "class": 1}],
                 "image_sets": [{"name": "s1", "folder": imgs, "reference_target": "t0"}]}
        sf = os.path.join(self.work, "study.json")
        open(sf, "w").write(json.dumps(study))
        failures = self.scenario("study-run", lambda out: ["study", "run", sf, "--out", out, "--threads", "1"])
        wb = os.path.join(self.work, "wb")
        self.run(["aiou", "make-data", "--out", wb, "--bias", "0.9", "--train-per-class", "2", "--val-per-class", "1", "--test-per-class", "2",
                  "--size", "32"])
        cnn = os.path.join(self.data, "gradcam", "resnet-basic.safetensors")
        cnn2 = os.path.join(self.data, "gradcam", "resnet-basic.pth")
        failures += self.scenario("aiou-score", lambda out: ["aiou", "score", "--dataset", "waterbirds", "--root", wb, "--model", cnn, "--model", cnn2,
                                                             "--size", "32", "--threads", "1", "--out", out])
        folder = os.path.join(self.work, "folder")
        for c in "ab":
            os.makedirs(os.path.join(folder, c))
            for i in range(10):
                shutil.copy(img, os.path.join(folder, c, f"{c}{i}.png"))
        failures += self.scenario("train", lambda out: ["train", "--data", "folder", "--root", folder, "--config", os.path.join(vit, "config.json"),
                                                        "--mode", "full", "--epochs", "2", "--batch", "4", "--workers", "1", "--threads", "1",
                                                        "--out", out])
        for f in failures:
            print("FAIL", f)
        return 1 if failures else 0


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--work", required=True)
    a = ap.parse_args()
    sys.exit(Interruptions(a.cli, a.data, a.work).main())
