#!/usr/bin/env bash
# The long run of the wire-format fuzzer (issue 17): the ASan+UBSan test
# binary tests/wire_fuzz_test with more iterations and several seeds. CTest
# runs it briefly (100k iterations, seed 1) on every build.
#
#   bash bench/wire_fuzz.sh [iterations=5000000] [seeds="11 12 13 14"]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
binary="${MSREC_FUZZ_BINARY:-$root/build/tests/wire_fuzz_test}"
iterations=${1:-5000000}
seeds=${2:-"11 12 13 14"}
[[ -x "$binary" ]] || { echo "wire_fuzz.sh: no fuzz binary at $binary (build with tests)" >&2; exit 2; }
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
for seed in $seeds; do
  start=$(date +%s)
  if ! MSREC_FUZZ_SEED=$seed MSREC_FUZZ_ITERATIONS=$iterations "$binary" > "/tmp/wire_fuzz_$seed.log" 2>&1; then
    echo "wire_fuzz.sh: seed $seed FAILED; log /tmp/wire_fuzz_$seed.log" >&2
    tail -30 "/tmp/wire_fuzz_$seed.log" >&2
    exit 1
  fi
  echo "$(grep '^wire fuzz:' "/tmp/wire_fuzz_$seed.log") ($(( $(date +%s) - start )) s)"
done
echo "wire_fuzz.sh: every seed passed"
