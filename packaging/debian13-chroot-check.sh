#!/usr/bin/env bash
# Builds BiasScope and runs its test suite in a Debian 13 (trixie) chroot made with debootstrap, as root:
#   sudo bash packaging/debian13-chroot-check.sh [CHROOT_DIR] [CTEST_ARGS...]
# CHROOT_DIR defaults to /var/tmp/biasscope-trixie and is reused (debootstrap and the packages run once; the
# compiler cache lives inside it). The working tree (without build folders) and ../shared/data are copied
# in; the build uses packaging/install-build-deps.sh and the README's test command unchanged. The log is
# CHROOT_DIR/biasscope-check.log, the last line says PASS or FAIL; docs/packaging.md records the result.
# BIASSCOPE_CHROOT_STEPS=prepare stops after debootstrap and the packages.
set -euo pipefail
SRC="$(cd "$(dirname "$0")/.." && pwd)"
ROOT="${1:-/var/tmp/biasscope-trixie}"
shift || true
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
if [ "$(id -u)" != "0" ]; then echo "debian13-chroot-check: run as root (debootstrap, chroot)" >&2; exit 2; fi
command -v debootstrap >/dev/null || { apt-get update && apt-get install -y --no-install-recommends debootstrap; }
if [ ! -x "$ROOT/usr/bin/apt-get" ]; then
  debootstrap --variant=minbase trixie "$ROOT" "$MIRROR"
fi
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
mounted=()
mount_in() { mkdir -p "$ROOT$2"; mount "${@:3}" "$1" "$ROOT$2"; mounted=("$ROOT$2" "${mounted[@]}"); }
cleanup() { for m in "${mounted[@]}"; do umount -l "$m" 2>/dev/null || true; done; }
trap cleanup EXIT
mount_in proc /proc -t proc
mount_in sysfs /sys -t sysfs
mount_in /dev /dev --bind
mount_in devpts /dev/pts -t devpts
mount_in tmpfs /dev/shm -t tmpfs
# the sources: the working tree as it is (tracked and untracked, no build folders), and the shared test data
rm -rf "$ROOT/src/biasscope" && mkdir -p "$ROOT/src/biasscope" "$ROOT/src/shared"
(cd "$SRC" && git ls-files -co --exclude-standard -z | tar --null -T - -cf -) | tar -xf - -C "$ROOT/src/biasscope"
if [ -d "$SRC/../shared/data" ]; then rm -rf "$ROOT/src/shared/data"; cp -a "$SRC/../shared/data" "$ROOT/src/shared/data"; fi
LOG="$ROOT/biasscope-check.log"
STEPS="${BIASSCOPE_CHROOT_STEPS:-all}"
CTEST_ARGS="$*"
set +e
chroot "$ROOT" /usr/bin/env -i HOME=/root PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 STEPS="$STEPS" CTEST_ARGS="$CTEST_ARGS" bash -c '
  set -euo pipefail
  cd /src/biasscope
  echo "== $(cat /etc/debian_version) ($(uname -m)), $(nproc) cores"
  bash packaging/install-build-deps.sh
  dpkg-query -W -f "\${Package} \${Version}\n" libtorch-dev qt6-base-dev libopencv-dev g++ cmake | sed "s/^/== /"
  [ "$STEPS" = prepare ] && exit 0
  export CCACHE_DIR=/root/.cache/ccache
  t0=$SECONDS
  cmake --preset ci && cmake --build --preset ci -j"$(nproc)"
  echo "== build $((SECONDS - t0)) s"
  t0=$SECONDS
  ctest --preset ci $CTEST_ARGS
  echo "== tests $((SECONDS - t0)) s"
' 2>&1 | tee "$LOG"
rc=${PIPESTATUS[0]}
set -e
if [ "$rc" = 0 ]; then echo "debian13-chroot-check: PASS" | tee -a "$LOG"; else echo "debian13-chroot-check: FAIL (exit $rc)" | tee -a "$LOG"; fi
exit "$rc"
