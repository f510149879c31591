#!/usr/bin/env bash
# README quick start, command 2: install, build and run every test (CTest).
set -euo pipefail
cd "$(dirname "$0")/.."
bash launch/setup.sh
bash launch/build.sh -DMSREC_BUILD_TESTS=ON
cd build
ctest --output-on-failure -j1 "$@"
