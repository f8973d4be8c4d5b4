#!/usr/bin/env bash
# The spread of the demo's measures across BLAS kernels, builds and seeds (docs/demo.md, "Spread").
# Usage: bench/demo-spread.sh CLI OUT_DIR LABEL "ENV_SETTINGS..." "SEEDS" "BIASES" [JOBS]
#   CLI           a biasscope-cli (e.g. build/app/cli/biasscope-cli or build-pip/app/cli/biasscope-cli)
#   LABEL         the build's name in the table (e.g. debian-1.13, pip-2.14.1)
#   ENV_SETTINGS  space-separated VAR=value settings, one run per setting, e.g.
#                 "OPENBLAS_CORETYPE=Prescott OPENBLAS_CORETYPE=Haswell" or "MKL_ENABLE_INSTRUCTIONS=AVX2";
#                 "-" is the machine's default
# Each run builds one demo (data, class model, concept head; no study) and writes its measures as JSON;
# the table (CSV) is OUT_DIR/spread.csv: build, setting, seed, bias, then every measure.
set -euo pipefail
CLI="$(realpath "$1")"; OUT="$2"; LABEL="$3"; SETTINGS="$4"; SEEDS="$5"; BIASES="$6"; JOBS="${7:-2}"
mkdir -p "$OUT"
jobs_file="$OUT/jobs.txt"
: > "$jobs_file"
for s in $SETTINGS; do for seed in $SEEDS; do for b in $BIASES; do echo "$s $seed $b" >> "$jobs_file"; done; done; done
run_one() {
  local setting="$1" seed="$2" bias="$3" dir name
  name="$LABEL-${setting//[=\/]/_}-b${bias}-s${seed}"
  dir="$OUT/runs/$name"
  [ -f "$dir/measures.json" ] && return 0
  mkdir -p "$dir"
  if [ "$setting" = "-" ]; then env_args=(); else env_args=("$setting"); fi
  # shellcheck disable=SC2086
  env "${env_args[@]}" OMP_NUM_THREADS=1 "$CLI" demo --out "$dir/demo" --bias "$bias" --seed "$seed" --threads 1 --no-analysis ${DEMO_ARGS:-} \
      --measure-json "$dir/measures.json.tmp" > "$dir/log.txt" 2>&1 && mv "$dir/measures.json.tmp" "$dir/measures.json"
  rm -rf "$dir/demo/data"  # keep the models and measures, not the images
}
export -f run_one
export CLI OUT LABEL DEMO_ARGS
xargs -P "$JOBS" -L 1 bash -c 'run_one "$@"' _ < "$jobs_file"
python3 - "$OUT" <<'PY'
import json, os, sys, csv
out = sys.argv[1]
rows = []
for name in sorted(os.listdir(os.path.join(out, "runs"))):
    f = os.path.join(out, "runs", name, "measures.json")
    if not os.path.exists(f): continue
    m = json.load(open(f))
    label, rest = name.split("-", 1) if name.count("-") >= 3 else (name, "")
    parts = name.rsplit("-", 2)
    rows.append({"run": parts[0], "bias": parts[1][1:], "seed": parts[2][1:], **m})
keys = list(rows[0].keys()) if rows else []
with open(os.path.join(out, "spread.csv"), "w", newline="") as fh:
    w = csv.DictWriter(fh, keys); w.writeheader(); w.writerows(rows)
print(f"{len(rows)} runs -> {out}/spread.csv")
PY
