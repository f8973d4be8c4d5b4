#!/usr/bin/env bash
# Runs every libFuzzer target of build-fuzz/ for SECONDS each (default 600), JOBS at a time (default 2),
# from the seeds in tests/fuzz/corpus/<dir>/ (copied: the seeds stay as committed). Writes
# build-fuzz/fuzz-runs/<target>.log and prints one line per target: executions, rate, coverage, result.
#   cmake --preset fuzz && cmake --build build-fuzz -j2 && bash tests/fuzz/run-all.sh [SECONDS [JOBS [TARGET...]]]
set -uo pipefail
cd "$(dirname "$0")/../.."
SECONDS_EACH="${1:-600}"
JOBS="${2:-2}"
shift 2 2>/dev/null || shift $#
declare -A CORPUS=(
  [safetensors_header]=safetensors [safetensors_record]=safetensors [torch_pth]=torch-pth [json_inputs]=json
  [study_definition]=study [published_relevance]=published [project_file]=project
  [celeba_attributes]=celeba-attributes [celeba_partition]=celeba-partition [waterbirds_metadata]=waterbirds
  [attribute_table]=attribute-table [csv_dataset]=csv-dataset
)
# torch_pth: LibTorch 1.13 leaks its zip reader on every refused archive (lsan.supp), and a leak check
# after each such input costs more than the input, so the timed run has leak detection off and its
# final corpus is replayed once with it on (full stacks, the LibTorch leak suppressed).
declare -A EXTRA=([torch_pth]="-detect_leaks=0")
declare -A ENVS=([torch_pth]="ASAN_OPTIONS=detect_leaks=0")
declare -A REPLAY_LEAKS=([torch_pth]=1)
TARGETS=("$@")
[ ${#TARGETS[@]} -eq 0 ] && TARGETS=(torch_pth safetensors_record json_inputs study_definition project_file published_relevance
                                    celeba_attributes celeba_partition waterbirds_metadata attribute_table csv_dataset safetensors_header)
OUT=build-fuzz/fuzz-runs
export LSAN_OPTIONS="suppressions=$PWD/tests/fuzz/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
mkdir -p "$OUT"
run_one() {
  local t="$1" work="$OUT/corpus-$1"
  rm -rf "$work" && mkdir -p "$work" && cp tests/fuzz/corpus/"${CORPUS[$t]}"/* "$work"/
  # a hang is one input over 10 s; the JSON readers need inputs long enough to nest past the depth limit
  env ${ENVS[$t]:-} build-fuzz/tests/fuzz/fuzz_"$t" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=4096 -max_len=16384 \
    -print_final_stats=1 ${EXTRA[$t]:-} -artifact_prefix="$OUT/$t-" "$work" > "$OUT/$t.log" 2>&1
  local rc=$?
  if [ $rc -eq 0 ] && [ -n "${REPLAY_LEAKS[$t]:-}" ]; then
    ASAN_OPTIONS="fast_unwind_on_malloc=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}" build-fuzz/tests/fuzz/fuzz_"$t" -runs=0 -detect_leaks=1 -timeout=10 \
      -rss_limit_mb=4096 -artifact_prefix="$OUT/$t-replay-" "$work" >> "$OUT/$t.log" 2>&1
    rc=$?
  fi
  local runs cov
  runs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$OUT/$t.log" | head -1 | awk '{print $2}')
  cov=$(grep -o 'cov: [0-9]*' "$OUT/$t.log" | tail -1 | awk '{print $2}')
  local verdict="no crash, sanitizer report, leak or hang"
  [ $rc -ne 0 ] && verdict="FOUND (rc $rc): $(grep -m1 -E 'ERROR|SUMMARY|off-contract|refusal|abort' "$OUT/$t.log")"
  printf '%-20s %10s runs %6s s %8s/s  cov %-6s %s\n' "$t" "${runs:-?}" "$SECONDS_EACH" "$(( ${runs:-0} / SECONDS_EACH ))" "${cov:-?}" "$verdict"
}
export -f run_one
export SECONDS_EACH OUT
for t in "${TARGETS[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n; done
  run_one "$t" &
done
wait
