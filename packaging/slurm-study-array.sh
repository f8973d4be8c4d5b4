#!/bin/bash
# Example: run a BiasScope study as a Slurm job array of N shards writing into one store.
# Submit with: sbatch --array=0-7 packaging/slurm-study-array.sh resources/studies/ieat-gender.json /scratch/ieat-run
#SBATCH --job-name=biasscope-study
#SBATCH --gres=gpu:1
#SBATCH --cpus-per-task=8
#SBATCH --time=02:00:00
set -euo pipefail
STUDY="$1"
OUT="$2"
N="${SLURM_ARRAY_TASK_COUNT:-1}"
I="${SLURM_ARRAY_TASK_ID:-0}"
# Each shard computes images i with i mod N == I; re-submitting resumes (stored images are skipped).
biasscope-cli study run "$STUDY" --out "$OUT" --shard "$I/$N" --device auto --threads "${SLURM_CPUS_PER_TASK:-0}"
