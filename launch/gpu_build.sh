#!/usr/bin/env bash
# Builds and tests msrec on a GPU machine that has PyTorch 2.x with CUDA but no
# package registry. The Debian 12 libraries msrec needs (RocksDB, glog, gflags,
# GTest) travel as .deb files in gpu/debs (make them here with
# `bash launch/gpu_build.sh --download`); they are unpacked with dpkg -x into
# gpu/root, never into /.
#   bash launch/gpu_build.sh --download   # on a Debian machine: fetch the .debs
#   bash launch/gpu_build.sh              # on the GPU machine: unpack, build, ctest
set -euo pipefail
cd "$(dirname "$0")/.."
DEBS=(librocksdb-dev librocksdb7.8 libgflags-dev libgflags2.2 libgoogle-glog-dev
      libgoogle-glog0v6 libsnappy1v5 libunwind8 libunwind-dev liblzma-dev libgtest-dev libgmock-dev)
if [ "${1:-}" = "--download" ]; then
  mkdir -p gpu/debs
  (cd gpu/debs && apt-get download "${DEBS[@]}")
  exit 0
fi
ROOT=$PWD/gpu/root
mkdir -p "$ROOT"
for deb in gpu/debs/*.deb; do dpkg -x "$deb" "$ROOT"; done
# The unpacked CMake package files point at /usr; make them point at $ROOT/usr.
grep -rl '/usr/' "$ROOT/usr/lib/x86_64-linux-gnu/cmake" 2>/dev/null |
  xargs -r sed -i "s#\([\" ;]\)/usr/#\1$ROOT/usr/#g"
# Versioned .so links for the -dev packages.
(cd "$ROOT/usr/lib/x86_64-linux-gnu" && for f in *.so.*; do
   base=${f%%.so.*}.so; [ -e "$base" ] || ln -s "$f" "$base"; done)
TORCH_PREFIX=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')
export LD_LIBRARY_PATH=$ROOT/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}
cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release -DMSREC_WITH_CUDA=ON \
  -DCMAKE_PREFIX_PATH="$ROOT/usr;$ROOT/usr/lib/x86_64-linux-gnu/cmake;$TORCH_PREFIX" \
  -DCMAKE_INCLUDE_PATH="$ROOT/usr/include" -DCMAKE_LIBRARY_PATH="$ROOT/usr/lib/x86_64-linux-gnu" \
  -DMSREC_BUILD_BENCHMARKS=ON "${@}"
cmake --build build-gpu -j"$(nproc)"
(cd build-gpu && ctest --output-on-failure -j4)
