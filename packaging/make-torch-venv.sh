#!/usr/bin/env bash
# Makes (or reuses) a virtual environment with PyTorch's pip wheels and prints its python's path on stdout.
# Default: torch 2.14.1 + torchvision 0.29.1 (the CUDA build; it runs on the CPU too), which lie on the CI
# machine's disk. Override with BIASSCOPE_TORCH_VENV (folder) and BIASSCOPE_TORCH_PIP (pip arguments),
# e.g. BIASSCOPE_TORCH_PIP="torch==2.13.0" for the CPU wheel.
set -euo pipefail
VENV="${BIASSCOPE_TORCH_VENV:-$HOME/.cache/biasscope/venv-torch-2.14.1}"
PIP_ARGS="${BIASSCOPE_TORCH_PIP:-torch==2.14.1 torchvision==0.29.1}"
want="$(echo "$PIP_ARGS" | tr ' ' '\n' | sed -n 's/^torch==//p')"
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "import torch, sys; sys.exit(0 if torch.__version__.split('+')[0] == '$want' else 1)" 2>/dev/null; then
  echo "make-torch-venv: reusing $VENV (torch $want)" >&2
else
  echo "make-torch-venv: creating $VENV ($PIP_ARGS)" >&2
  rm -rf "$VENV"
  mkdir -p "$(dirname "$VENV")"
  python3 -m venv "$VENV" >&2
  # shellcheck disable=SC2086
  "$VENV/bin/pip" install --quiet $PIP_ARGS >&2
fi
echo "$VENV/bin/python"
