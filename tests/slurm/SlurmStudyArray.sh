#!/usr/bin/env bash
# CTest (label slurm): packaging/slurm-study-array.sh on a real Slurm. Installs Debian's slurm-wlm and munge
# when they are missing (root only), starts munged, slurmctld and slurmd on localhost with a minimal
# configuration of its own (nothing system-wide is changed but the munge key, made if absent), submits the
# study array over 4 shards of a small study, waits, runs `study analyze`, and checks that every record and
# every analysis table equals a single-process run byte for byte. Then a failed task is resubmitted and
# resumes: records already written are kept (the resume the cluster recipe of docs/cluster.md relies on).
# Usage: SlurmStudyArray.sh CLI DATA_DIR REPO_DIR OUT_DIR
set -euo pipefail
CLI="$(realpath "$1")"; DATA="$(realpath "$2")"; REPO="$(realpath "$3")"; OUT="$4"
fail() { echo "slurm test: $*" >&2; exit 1; }
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  [ "$(id -u)" = 0 ] || fail "slurm-wlm and munge are not installed (and this is not root to install them)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends slurm-wlm munge >/dev/null
fi
rm -rf "$OUT"; mkdir -p "$OUT"/{spool,state,log}
OUT="$(realpath "$OUT")"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

# munge: the key (created once), a daemon with its own socket
if [ ! -s /etc/munge/munge.key ]; then
  mkdir -p /etc/munge
  if command -v mungekey >/dev/null; then mungekey --create --keyfile /etc/munge/munge.key 2>/dev/null || mungekey --create --force; else dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none; fi
fi
chmod 0400 /etc/munge/munge.key
MUNGE_SOCKET="$OUT/munge.socket"
mkdir -p /var/lib/munge /var/log/munge /run/munge
munged --force --socket="$MUNGE_SOCKET" --pid-file="$OUT/munged.pid" --log-file="$OUT/log/munged.log" --seed-file="$OUT/munge.seed"
PIDS+=("$(cat "$OUT/munged.pid")")

HOST="$(hostname -s)"
CPUS="$(nproc)"
MEM=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 / 2 ))
cat > "$OUT/slurm.conf" <<CONF
ClusterName=biasscope-test
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$MUNGE_SOCKET
CredType=cred/munge
SlurmctldPort=$((16817 + RANDOM % 500))
SlurmdPort=$((17818 + RANDOM % 500))
StateSaveLocation=$OUT/state
SlurmdSpoolDir=$OUT/spool
SlurmctldPidFile=$OUT/slurmctld.pid
SlurmdPidFile=$OUT/slurmd.pid
SlurmctldLogFile=$OUT/log/slurmctld.log
SlurmdLogFile=$OUT/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM State=UNKNOWN
PartitionName=test Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$OUT/slurm.conf"
slurmctld -D -f "$SLURM_CONF" > "$OUT/log/slurmctld.out" 2>&1 &
PIDS+=("$!")
slurmd -D -f "$SLURM_CONF" -N "$HOST" > "$OUT/log/slurmd.out" 2>&1 &
PIDS+=("$!")
for i in $(seq 60); do
  if sinfo -h -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then break; fi
  sleep 1
  [ "$i" = 60 ] && { cat "$OUT/log/"*; fail "the Slurm node did not come up"; }
done

# a small study: 8 generated images in two sets over the tiny test ViT
mkdir -p "$OUT/study/male" "$OUT/study/female"
for i in 1 2 3 4; do
  "$CLI" make-demo --seed "$i" --out "$OUT/gen$i" >/dev/null && cp "$OUT/gen$i/synthetic.png" "$OUT/study/male/img$i.png"
  "$CLI" make-demo --seed "$((i + 10))" --out "$OUT/gen$((i + 10))" >/dev/null && cp "$OUT/gen$((i + 10))/synthetic.png" "$OUT/study/female/img$i.png"
done
cat > "$OUT/study/study.json" <<JSON
{"name": "slurm", "heads": [{"name": "imagenet", "path": "$DATA/tiny-vit"}, {"name": "gender", "path": "$DATA/tiny-vit/model.safetensors"}],
 "targets": [{"name": "a", "head": "imagenet", "class": 2}, {"name": "gender_male", "head": "gender", "class": 1}, {"name": "gender_female", "head": "gender", "class": 0}],
 "image_sets": [{"name": "male", "folder": "male", "reference_target": "gender_male"}, {"name": "female", "folder": "female", "reference_target": "gender_female"}],
 "readout": "gradient"}
JSON

# the array: 4 shards into one store; biasscope-cli found on the PATH as on a cluster
export PATH="$(dirname "$CLI"):$PATH"
cd "$OUT"
sbatch --wait --array=0-3 --cpus-per-task=1 --output="$OUT/log/task-%a.out" "$REPO/packaging/slurm-study-array.sh" "$OUT/study/study.json" "$OUT/array-store" \
  || { cat "$OUT/log/"task-*.out; fail "the array failed"; }
for a in 0 1 2 3; do grep -q "computed" "$OUT/log/task-$a.out" || { cat "$OUT/log/task-$a.out"; fail "task $a did not run the study"; }; done
"$CLI" study analyze "$OUT/array-store" --threshold 0 >/dev/null
# the same in one process
"$CLI" study run "$OUT/study/study.json" --out "$OUT/single-store" >/dev/null
"$CLI" study analyze "$OUT/single-store" --threshold 0 >/dev/null
n=0
while IFS= read -r -d '' f; do
  rel="${f#"$OUT/single-store/"}"
  cmp -s "$f" "$OUT/array-store/$rel" || fail "$rel differs between the array and the single run"
  n=$((n + 1))
done < <(find "$OUT/single-store/relevance" "$OUT/single-store/analysis" -type f \( -name '*.safetensors' -o -name '*.csv' \) -print0)
[ "$n" -ge 8 ] || fail "only $n records and tables compared"
[ "$(find "$OUT/array-store/relevance" -name '*.safetensors' | wc -l)" = 8 ] || fail "the array store does not hold 8 records"
echo "slurm test: 4 array tasks; $n records and tables equal the single-process run"

# resume after a failed task: a record lost (as when a task dies before writing it); resubmitting the whole
# array recomputes only that record, the others are skipped and stay untouched
before="$(stat -c %Y.%N "$OUT"/array-store/relevance/male/img1.safetensors 2>/dev/null || stat -c %Y "$OUT"/array-store/relevance/male/img1.safetensors)"
sleep 1
rm -f "$OUT/array-store/relevance/female/img3.safetensors"
sbatch --wait --array=0-3 --cpus-per-task=1 --output="$OUT/log/retry-%a.out" "$REPO/packaging/slurm-study-array.sh" "$OUT/study/study.json" "$OUT/array-store" \
  || { cat "$OUT/log/"retry-*.out; fail "the resubmitted array failed"; }
[ -f "$OUT/array-store/relevance/female/img3.safetensors" ] || fail "the resubmitted array did not recompute the lost record"
cmp -s "$OUT/array-store/relevance/female/img3.safetensors" "$OUT/single-store/relevance/female/img3.safetensors" || fail "the recomputed record differs"
after="$(stat -c %Y.%N "$OUT"/array-store/relevance/male/img1.safetensors 2>/dev/null || stat -c %Y "$OUT"/array-store/relevance/male/img1.safetensors)"
[ "$after" = "$before" ] || fail "a finished record was rewritten"
cat "$OUT"/log/retry-*.out | grep -q "1 computed" || { cat "$OUT"/log/retry-*.out; fail "no task reports the one recomputed record"; }
echo "slurm test: the resubmitted array recomputed only the lost record"
