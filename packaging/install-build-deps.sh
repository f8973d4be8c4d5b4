#!/usr/bin/env bash
# Installs the Debian packages BiasScope builds and tests with (packaging/debian-build-deps.txt), on Debian 12
# (bookworm) and 13 (trixie) alike; the names in the list exist in both. Uses sudo only when not already root.
# A machine that already has Debian's CUDA LibTorch (libtorch-cuda-dev, which conflicts with libtorch-dev)
# keeps it: installing libtorch-dev would silently swap it for the CPU build.
set -euo pipefail
cd "$(dirname "$0")"
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
mapfile -t PKGS < <(grep -v '^#' debian-build-deps.txt | sed 's/[[:space:]]*#.*//' | grep -v '^[[:space:]]*$')
if [ "$(dpkg-query -W -f='${db:Status-Status}' libtorch-cuda-dev 2>/dev/null || true)" = "installed" ]; then
  echo "install-build-deps: libtorch-cuda-dev is installed; keeping it instead of libtorch-dev"
  for i in "${!PKGS[@]}"; do [ "${PKGS[$i]}" = "libtorch-dev" ] && PKGS[$i]="libtorch-cuda-dev"; done
fi
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends "${PKGS[@]}"
