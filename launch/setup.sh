#!/usr/bin/env bash
# Installs the Debian 12 packages msrec needs to build, test and benchmark.
# Idempotent: installs only what is missing. Run as root (or with sudo).
set -euo pipefail

PACKAGES=(
  build-essential cmake ccache pkg-config
  libtorch-dev libopenblas0-pthread        # LibTorch 1.13 (CPU) and a fast BLAS for it
  libopenmpi-dev openmpi-bin               # MPI transport and mpirun
  librocksdb-dev zlib1g-dev libzstd-dev    # embedding store, gzip and zstd input
  libgflags-dev libgoogle-glog-dev         # flags, logging
  libgtest-dev libgmock-dev libbenchmark-dev
  python3-torch                            # bench/: the plain PyTorch reference
  time                                     # bench/: peak RSS (/usr/bin/time -v)
  chromium                                 # tests: msrec report rendered headless
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PACKAGES[@]} packages present"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
