#!/bin/bash
# Example: run a BiasScope study as a Slurm job array of N shards writing into one store.
# Submit with: sbatch --array=0-7 [--gres=gpu:1] packaging/slurm-study-array.sh resources/studies/ieat-gender.json /scratch/ieat-run
# The store (/scratch/ieat-run) must be on a file system every node sees; each task writes its own records
# atomically, so tasks never collide. A failed or timed-out task: resubmit the same array (or only its index);
# stored records are skipped. Then `biasscope-cli study analyze /scratch/ieat-run` once (docs/cluster.md).
#SBATCH --job-name=biasscope-study
#SBATCH --cpus-per-task=8
#SBATCH --time=02:00:00
set -euo pipefail
STUDY="$1"
OUT="$2"
# the shard count: the array's size, or BIASSCOPE_SHARDS when only some indices are resubmitted
N="${BIASSCOPE_SHARDS:-${SLURM_ARRAY_TASK_COUNT:-1}}"
I="${SLURM_ARRAY_TASK_ID:-0}"
# Each shard computes images i with i mod N == I; re-submitting resumes (stored images are skipped).
biasscope-cli study run "$STUDY" --out "$OUT" --shard "$I/$N" --device auto --threads "${SLURM_CPUS_PER_TASK:-0}"
