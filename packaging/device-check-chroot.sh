#!/usr/bin/env bash
# Runs bench/device-check.sh as it would run on the lent GPU machine, here on the CPU: in a Debian 12 chroot
# that has only a compiler, CMake, Python and the CPU PyTorch wheel (torch 2.13.0), none of BiasScope's other
# dependencies, so the build can only succeed with the bundle of packaging/make-device-bundle.sh.
#   sudo bash packaging/device-check-chroot.sh [CHROOT_DIR=/var/tmp/biasscope-device-chroot]
# Results: CHROOT_DIR/src/biasscope/device-out/ (copied to ./device-out-cpu/).
set -euo pipefail
SRC="$(cd "$(dirname "$0")/.." && pwd)"
ROOT="${1:-/var/tmp/biasscope-device-chroot}"
[ "$(id -u)" = 0 ] || { echo "device-check-chroot: run as root" >&2; exit 2; }
[ -f "$SRC/.device-bundle/device-bundle.tar.xz" ] || { echo "device-check-chroot: make the bundle first (packaging/make-device-bundle.sh)" >&2; exit 2; }
command -v debootstrap >/dev/null || { apt-get update && apt-get install -y --no-install-recommends debootstrap; }
if [ ! -x "$ROOT/usr/bin/apt-get" ]; then debootstrap --variant=minbase bookworm "$ROOT" http://deb.debian.org/debian; fi
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
mounted=()
mount_in() { mkdir -p "$ROOT$2"; mount "${@:3}" "$1" "$ROOT$2"; mounted=("$ROOT$2" "${mounted[@]}"); }
cleanup() { for m in "${mounted[@]}"; do umount -l "$m" 2>/dev/null || true; done; }
trap cleanup EXIT
mount_in proc /proc -t proc
mount_in /dev /dev --bind
mount_in tmpfs /dev/shm -t tmpfs
# the working tree anew, but the build folder of an earlier run is kept (ninja rebuilds what changed)
mkdir -p "$ROOT/src/biasscope"
find "$ROOT/src/biasscope" -mindepth 1 -maxdepth 1 ! -name build-device -exec rm -rf {} +
rm -rf "$ROOT/wheels" && mkdir -p "$ROOT/wheels"
(cd "$SRC" && git ls-files -co --exclude-standard -z | tar --null -T - -cf -) | tar -xf - -C "$ROOT/src/biasscope"
cp -a "$SRC/.device-bundle" "$ROOT/src/biasscope/"
# the CPU wheel and what it needs, fetched here (this machine's pip configuration), installed offline there
python3 -m pip download --quiet --only-binary=:all: --dest "$ROOT/wheels" torch==2.13.0
chroot "$ROOT" /usr/bin/env -i HOME=/root PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 bash -c '
  set -euo pipefail
  export DEBIAN_FRONTEND=noninteractive
  # what the GPU machine has: a compiler, CMake, ninja, Python with PyTorch; no -dev packages of our dependencies
  dpkg -s g++ cmake ninja-build python3-venv xz-utils >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y --no-install-recommends g++ cmake ninja-build python3-venv xz-utils ca-certificates >/dev/null; }
  for p in libopencv-dev qt6-base-dev libeigen3-dev libboost-dev nlohmann-json3-dev libcli11-dev libtorch-dev; do
    if dpkg -s "$p" >/dev/null 2>&1; then echo "device-check-chroot: $p is installed; this chroot must not have it" >&2; exit 2; fi
  done
  if ! /venv/bin/python -c "import torch" 2>/dev/null; then
    rm -rf /venv && python3 -m venv /venv
    /venv/bin/pip install --quiet --no-index --find-links /wheels torch==2.13.0
  fi
  cd /src/biasscope
  bash bench/device-check.sh --device cpu --python /venv/bin/python --out /src/biasscope/device-out
'
rm -rf "$SRC/device-out-cpu" && cp -a "$ROOT/src/biasscope/device-out" "$SRC/device-out-cpu"
echo "device-check-chroot: results in $SRC/device-out-cpu"
