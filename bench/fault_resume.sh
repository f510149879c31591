#!/usr/bin/env bash
# Kill-and-resume on generated data with 2 workers + 2 servers (issue 8):
#   1. the uninterrupted job (--deterministic, a checkpoint every $EVERY steps);
#   2. the same job, worker 1 killed with SIGKILL a moment after a checkpoint;
#   3. --resume of the killed job;
# then prints the steps lost (the last step the killed job finished minus the
# checkpoint it resumed from; at most the interval), whether the resumed
# job's dense parameters and rows equal the uninterrupted job's, and the
# checkpoint cost of a 10M-row table (bench/checkpoint_bench).
#
# usage: bash bench/fault_resume.sh [rows=200000] [every=20] [table_rows=10000000]
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${1:-200000}
EVERY=${2:-20}
TABLE_ROWS=${3:-10000000}
MSREC=${MSREC:-$PWD/build/launch/msrec}
OUT=${OUT:-/tmp/msrec_fault}
rm -rf "$OUT" && mkdir -p "$OUT"
"$MSREC" gen --output "$OUT/data" --rows "$ROWS" --num_fields 8 --seed 3 > /dev/null 2>&1
ROOT=""; [ "$(id -u)" = 0 ] && ROOT="--allow-run-as-root"
run() {  # $1 model dir, rest: extra flags
  local dir=$1; shift
  mpirun $ROOT --oversubscribe -np 4 "$MSREC" train --num_servers 2 \
    --schema_file "$OUT/data/schema.txt" --train "$OUT/data/train.csv" --val "$OUT/data/val.csv" \
    --model mt_backbone --epochs 1 --batch_size 1024 --threads 1 --deterministic \
    --checkpoint_every_steps "$EVERY" --log_every 1 --ps_timeout_s 15 --comm_timeout_s 15 \
    --model_dir "$OUT/$dir" "$@"
}
echo "== uninterrupted"
run full > "$OUT/full.log" 2>&1
grep '^trained' "$OUT/full.log"

echo "== killed: worker 1 (SIGKILL) just after the checkpoint of step $((2 * EVERY))"
run killed > "$OUT/killed.log" 2>&1 &
job=$!
manifest="$OUT/killed/checkpoints/$(printf 'ckpt-%010d' $((2 * EVERY)))/MANIFEST"
while [ ! -f "$manifest" ]; do sleep 0.05; done
sleep 0.5
for pid in $(pgrep -f -- "--model_dir $OUT/killed" || true); do
  if [ "$(cat /proc/$pid/comm 2>/dev/null)" = msrec ] &&
     tr "\\0" "\\n" < /proc/$pid/environ 2>/dev/null | grep -x OMPI_COMM_WORLD_RANK=1 > /dev/null; then
    kill -9 "$pid"
  fi
done
start=$(date +%s.%N)
wait $job && code=0 || code=$?
echo "killed job exited with code $code after $(echo "$(date +%s.%N) - $start" | bc) s; its message:"
grep -E "noticed|failed" "$OUT/killed.log" | head -2
last=$(grep -oE ' step [0-9]+ loss' "$OUT/killed.log" | tail -1 | grep -oE '[0-9]+' || echo 0)

echo "== resumed"
run killed --resume > "$OUT/resumed.log" 2>&1
grep -E '^resumed|^trained' "$OUT/resumed.log"
from=$(sed -nE 's/^resumed from step ([0-9]+).*/\1/p' "$OUT/resumed.log")
echo "steps lost: $((last - from)) (last finished step $last, resumed from $from; interval $EVERY)"
same=yes
cmp -s "$OUT/full/dense.pt" "$OUT/killed/dense.pt" || same=no
for s in 0 1; do cmp -s "$OUT/full/ps/server-$s.bin" "$OUT/killed/ps/server-$s.bin" || same=no; done
if [ $same = yes ]; then
  echo "parameter difference vs uninterrupted: 0 (dense.pt and both servers' rows bitwise identical)"
else
  echo "parameter difference vs uninterrupted: NONZERO (files differ)"
fi
grep '^overall' "$OUT/full.log" | tail -1 | sed 's/^/uninterrupted validation: /'
grep '^overall' "$OUT/resumed.log" | tail -1 | sed 's/^/resumed validation:       /'

echo "== checkpoint cost of a $TABLE_ROWS-row table (memory store: dump; RocksDB: native checkpoint)"
"$(dirname "$MSREC")/../bench/checkpoint_bench" --rows "$TABLE_ROWS" --dir "$OUT/ckpt_bench"
"$(dirname "$MSREC")/../bench/checkpoint_bench" --rows "$TABLE_ROWS" --store rocksdb --dir "$OUT/ckpt_bench" 2>/dev/null
rm -rf "$OUT"
