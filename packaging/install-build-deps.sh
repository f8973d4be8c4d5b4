#!/usr/bin/env bash
# Installs the Debian 12 / Ubuntu packages BiasScope builds and tests with (packaging/debian-build-deps.txt).
# Uses sudo only when not already root.
set -euo pipefail
cd "$(dirname "$0")"
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends $(grep -v '^#' debian-build-deps.txt)
