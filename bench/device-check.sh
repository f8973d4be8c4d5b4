#!/usr/bin/env bash
# The GPU check, one script: on a machine with an NVIDIA GPU and a Python PyTorch with CUDA, and none of
# BiasScope's other dependencies (no Qt, OpenCV or Debian -dev packages), it
#   1. unpacks the bundle of packaging/make-device-bundle.sh (OpenCV, Qt Core/Test, header libraries, test data),
#   2. builds core + CLI + the core tests + the benches against that PyTorch's LibTorch (headless),
#   3. runs every core test class with --device DEVICE (TestDevice compares the device with the CPU; the two
#      demo-training classes, minutes of single-threaded CPU training, are left to CI),
#   4. runs bench_relevance --device DEVICE (ViT-B/16, 18 targets, load cost) and bench_training,
# writing everything to OUT (at most 8 files). Under 8 minutes on the lent H200 machine (16 cores).
# Tested here against the CPU wheel (torch 2.13.0) in a Debian 12 chroot without the -dev packages
# (packaging/device-check-chroot.sh); docs/benchmarks.md records the runs.
#   bench/device-check.sh [--device cuda|cpu|auto] [--python PY] [--bundle FILE] [--out DIR] [--jobs N]
set -euo pipefail
T0=$SECONDS
SRC="$(cd "$(dirname "$0")/.." && pwd)"
DEVICE=auto; PY=python3; BUNDLE="$SRC/.device-bundle/device-bundle.tar.xz"; OUTDIR="${OUT:-$SRC/device-out}"; JOBS="$(nproc)"
while [ $# -gt 0 ]; do
  case "$1" in
    --device) DEVICE="$2"; shift 2 ;;
    --python) PY="$2"; shift 2 ;;
    --bundle) BUNDLE="$2"; shift 2 ;;
    --out) OUTDIR="$2"; shift 2 ;;
    --jobs) JOBS="$2"; shift 2 ;;
    *) echo "device-check: unknown option $1" >&2; exit 2 ;;
  esac
done
mkdir -p "$OUTDIR"
SUMMARY="$OUTDIR/summary.txt"
: > "$SUMMARY"
say() { echo "[$((SECONDS - T0)) s] $*" | tee -a "$SUMMARY"; }
[ -f "$BUNDLE" ] || { say "no bundle at $BUNDLE (make it with packaging/make-device-bundle.sh)"; exit 2; }
PY="$(command -v "$PY")" || { echo "device-check: no python '$PY'" >&2; exit 2; }
"$PY" -c "import torch" 2>/dev/null || { echo "device-check: $PY cannot import torch" >&2; exit 2; }
if [ "$DEVICE" = auto ]; then DEVICE="$("$PY" -c 'import torch; print("cuda" if torch.cuda.is_available() else "cpu")')"; fi
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "host: $(uname -srm), $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)"
  "$PY" -c 'import torch, sys; print("python", sys.version.split()[0], "torch", torch.__version__, "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version(), "gpus", [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())])'
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv,noheader || echo "no nvidia-smi"
  echo "device for the checks: $DEVICE"
} > "$OUTDIR/environment.txt" 2>&1
say "environment: $(tail -1 "$OUTDIR/environment.txt" | tr -d '\n'); torch $("$PY" -c 'import torch; print(torch.__version__)')"

# 1. the bundle
B="${TMPDIR:-/tmp}/biasscope-device-bundle"
rm -rf "$B" && mkdir -p "$B"
tar -xJf "$BUNDLE" -C "$B"
B="$B/bundle"
ARCH="$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)"
export LD_LIBRARY_PATH="$B/usr/lib/$ARCH${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
say "bundle unpacked ($(du -sh "$B" | cut -f1)): $(head -1 "$B/MANIFEST")"

# 2. configure + build (headless: no GUI libraries on such a machine)
GEN=()
command -v ninja >/dev/null && GEN=(-G Ninja)
BUILD="$SRC/build-device"
SHARED="$B/shared-data"
[ -d "$SHARED" ] || SHARED="$SRC/../shared/data"
set +e
{
  cmake -S "$SRC" -B "$BUILD" "${GEN[@]}" -DCMAKE_BUILD_TYPE=Release -DBIASSCOPE_TORCH_PYTHON="$PY" -DBIASSCOPE_BUILD_GUI=OFF \
    -DBIASSCOPE_BUILD_TESTS=ON -DBIASSCOPE_BUILD_BENCH=ON -DCMAKE_PREFIX_PATH="$B/usr;$B/opencv" -DBIASSCOPE_SHARED_DATA="$SHARED" \
    -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF &&
  cmake --build "$BUILD" -j"$JOBS" --target biasscope-cli biasscope_core_tests bench_relevance bench_training
} > "$OUTDIR/build.log" 2>&1
rc=$?
set -e
if [ $rc != 0 ]; then tail -40 "$OUTDIR/build.log"; say "BUILD FAILED (build.log)"; exit 1; fi
say "built core, CLI, core tests and benches ($(grep -m1 -o 'LibTorch [^ ]*' "$OUTDIR/build.log" || true))"

# 3. the core tests on the device
TESTS="$BUILD/tests/biasscope_core_tests"
classes="$("$TESTS" 2>&1 | sed -n 's/^classes: //p' || true)"  # (the usage exits 2; pipefail)
[ -n "$classes" ] || { say "no test classes listed by $TESTS"; exit 1; }
failed=0; passed=0
: > "$OUTDIR/core-tests.log"
for c in $classes; do
  case "$c" in TestPlantedBiasDemo|TestPlantedBiasGradient) echo "SKIP $c (CPU demo training, run by CI)" >> "$OUTDIR/core-tests.log"; continue ;; esac
  t=$SECONDS
  if (cd "$BUILD/tests" && OMP_NUM_THREADS=4 QT_QPA_PLATFORM=offscreen BIASSCOPE_CACHE_DIR="$BUILD/test-cache" timeout 300 "$TESTS" "$c" --device "$DEVICE" > "$OUTDIR/.t.log" 2>&1); then
    passed=$((passed + 1)); echo "PASS $c ($((SECONDS - t)) s)" >> "$OUTDIR/core-tests.log"
  else
    failed=$((failed + 1)); echo "FAIL $c ($((SECONDS - t)) s)" >> "$OUTDIR/core-tests.log"; grep -E 'FAIL!|Loc:|QWARN|Totals' "$OUTDIR/.t.log" | head -20 >> "$OUTDIR/core-tests.log"
  fi
  grep -E '^QINFO.*TestDevice|SKIP' "$OUTDIR/.t.log" >> "$OUTDIR/core-tests.log" || true
done
rm -f "$OUTDIR/.t.log"
say "core tests with --device $DEVICE: $passed passed, $failed failed (core-tests.log)"

# 4. benches
"$BUILD/bench/bench_relevance" --device "$DEVICE" --load-cost --json "$OUTDIR/bench-relevance.json" > "$OUTDIR/bench-relevance.md" 2>&1 || say "bench_relevance failed"
say "bench_relevance: $(grep -E 'batched backward|speed-up vs naive|hash cache hit' "$OUTDIR/bench-relevance.md" | tr '\n' ' ')"
BT=(--images 200 --epochs 5)
[ "$DEVICE" = cpu ] && BT=(--tiny)
"$BUILD/bench/bench_training" "${BT[@]}" --device "$DEVICE" > "$OUTDIR/bench-training.md" 2>&1 || say "bench_training failed"
say "bench_training: $(grep -iE 'images/s' "$OUTDIR/bench-training.md" | head -3 | tr '\n' ' ')"
say "done in $((SECONDS - T0)) s"
[ $failed = 0 ]
