#!/usr/bin/env bash
# The demo tests under each BLAS kernel setting, and the spread of the demo's measures they saw
# (docs/demo.md, "Spread"). For each setting, the demo fixture tests build the nine demo models into a
# directory of their own (BIASSCOPE_DEMO_FIXTURE_DIR), the demo tests run on them, and every model's
# measures (<model>/measures.json, study::measureDemoCached) go into OUT/spread.csv
# (bench/demo-spread-table.py makes the tables).
# Usage: bench/demo-kernels.sh BUILD_DIR OUT_DIR LABEL "ENV_SETTINGS..."
#   BUILD_DIR     a configured and built tree (build/ or build-pip/)
#   LABEL         the build's name in the table (e.g. deb12-lt1.13, pip-2.14.1)
#   ENV_SETTINGS  space-separated VAR=value settings, one full run per setting, "-" for the machine's default,
#                 e.g. "OPENBLAS_CORETYPE=Prescott OPENBLAS_CORETYPE=Haswell" or "MKL_ENABLE_INSTRUCTIONS=AVX2"
# Exit status: 1 when the demo tests failed under any setting (each setting's ctest log is in OUT).
set -uo pipefail
BUILD="$(realpath "$1")"; OUT="$(mkdir -p "$2" && realpath "$2")"; LABEL="$3"; SETTINGS="$4"
orig="$(sed -n 's/^BIASSCOPE_DEMO_FIXTURE_DIR:PATH=//p' "$BUILD/CMakeCache.txt")"
restore() { cmake -DBIASSCOPE_DEMO_FIXTURE_DIR="$orig" "$BUILD" > /dev/null; }
trap restore EXIT
failed=0
for s in $SETTINGS; do
  name="$LABEL-${s//[=\/]/_}"; [ "$s" = "-" ] && name="$LABEL"
  dir="$OUT/$name"
  mkdir -p "$dir"
  cmake -DBIASSCOPE_DEMO_FIXTURE_DIR="$dir" "$BUILD" > /dev/null
  if [ "$s" = "-" ]; then env_args=(); else env_args=("$s"); fi
  start=$(date +%s)
  if env "${env_args[@]}" ctest --test-dir "$BUILD" -j2 -V -R '^(demo\.|core\.TestPlantedBias|ui\.TestDemoViews)' > "$dir/ctest.log" 2>&1; then
    echo "$name: demo tests passed ($(( $(date +%s) - start )) s)"
  else
    echo "$name: demo tests FAILED ($(( $(date +%s) - start )) s): $dir/ctest.log"; failed=1
  fi
  grep -h "QINFO\|FAIL!" "$dir/ctest.log" | sed 's/^ *//' > "$dir/measures.log" || true
done
python3 - "$OUT" <<'PY'
import csv, json, os, re, sys
out = sys.argv[1]
rows = []
for run in sorted(os.listdir(out)):
    d = os.path.join(out, run)
    if not os.path.isdir(d):
        continue
    for model in sorted(os.listdir(d)):
        m = re.fullmatch(r"b(\d+)s(\d+)", model)
        f = os.path.join(d, model, "measures.json")
        if m and os.path.exists(f):
            rows.append({"run": run, "bias": str(int(m.group(1)) / 100), "seed": m.group(2), **json.load(open(f))["measures"]})
with open(os.path.join(out, "spread.csv"), "w", newline="") as fh:
    if rows:
        w = csv.DictWriter(fh, list(rows[0].keys())); w.writeheader(); w.writerows(rows)
print(f"{len(rows)} models -> {out}/spread.csv")
PY
exit $failed
