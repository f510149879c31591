#!/usr/bin/env bash
# Checkpoint fault injection (issue 17): a 2-worker + 1-server job
# (--deterministic, memory store, a checkpoint every $EVERY steps) is killed
# with SIGKILL $KILLS times and resumed after each kill; the job that finally
# completes must end with dense.pt and the server's rows bitwise equal to the
# uninterrupted run's.
#
# Kill moments: odd kills at a random time after the start (1 to 5 s: inside
# start-up, training, a checkpoint or the epoch end); even kills the moment a
# new checkpoint directory appears without its MANIFEST (inside a checkpoint
# write). The victim is a random rank: worker 0, worker 1 or the server, or
# mpirun itself. Prints each kill, the step it resumed from and the verdict.
#
#   bash bench/fault_inject.sh [kills=20] [rows=500000] [every=5] [seed=1]
set -euo pipefail
cd "$(dirname "$0")/.."
KILLS=${1:-20}
ROWS=${2:-500000}
EVERY=${3:-5}
RANDOM=${4:-1}
MSREC=${MSREC:-$PWD/build/launch/msrec}
OUT=${OUT:-/tmp/msrec_fault_inject}
rm -rf "$OUT" && mkdir -p "$OUT"
"$MSREC" gen --output "$OUT/data" --rows "$ROWS" --num_fields 8 --seed 5 > /dev/null 2>&1
ROOT=""; [ "$(id -u)" = 0 ] && ROOT="--allow-run-as-root"
run() {  # $1 model dir, rest: extra flags
  local dir=$1; shift
  mpirun $ROOT --oversubscribe -np 3 "$MSREC" train --num_servers 1 \
    --schema_file "$OUT/data/schema.txt" --train "$OUT/data/train.csv" --val "$OUT/data/val.csv" \
    --model mt_backbone --epochs 2 --batch_size 512 --threads 1 --deterministic \
    --checkpoint_every_steps "$EVERY" --keep_checkpoints 2 --log_every 1 \
    --ps_timeout_s 20 --comm_timeout_s 20 --model_dir "$OUT/$dir" "$@"
}
start=$(date +%s)
run full > "$OUT/full.log" 2>&1
echo "uninterrupted: $(grep '^trained' "$OUT/full.log") ($(( $(date +%s) - start )) s)"

# The pid of rank $1 of the job writing into $OUT/killed.
rank_pid() {
  for pid in $(pgrep -f -- "--model_dir $OUT/killed" || true); do
    if [ "$(cat /proc/$pid/comm 2>/dev/null)" = msrec ] &&
       tr "\\0" "\\n" < /proc/$pid/environ 2>/dev/null | grep -x "OMPI_COMM_WORLD_RANK=$1" > /dev/null; then
      echo "$pid"; return
    fi
  done
}
# Waits (up to 30 s) for a new checkpoint directory (not one of "$before",
# a former run's leftover) without a MANIFEST; true if one appeared.
wait_for_partial_checkpoint() {
  local ckpts="$OUT/killed/checkpoints" deadline=$(( $(date +%s) + 30 ))
  while [ "$(date +%s)" -lt "$deadline" ]; do
    for d in "$ckpts"/ckpt-*; do
      [[ " $before " == *" $d "* ]] && continue
      [ -d "$d" ] && [ ! -f "$d/MANIFEST" ] && return 0
    done
    kill -0 "$job" 2>/dev/null || return 1
    sleep 0.005
  done
  return 1
}

kills=0 attempts=0 completed=0 in_write=0
flags=()
while :; do
  attempts=$((attempts + 1))
  before=$(echo "$OUT"/killed/checkpoints/ckpt-*)
  run killed "${flags[@]}" > "$OUT/run-$attempts.log" 2>&1 &
  job=$!
  flags=(--resume)
  if [ "$kills" -lt "$KILLS" ]; then
    how="at random"
    if [ $((kills % 2)) = 1 ]; then
      if wait_for_partial_checkpoint; then how="inside a checkpoint write"; in_write=$((in_write + 1)); fi
    else
      sleep "$(( 1 + RANDOM % 4 )).$(( RANDOM % 10 ))"
    fi
    victim=$(( RANDOM % 4 ))
    pid=""; name=mpirun
    [ "$victim" != 3 ] && pid=$(rank_pid "$victim") && name="rank $victim"
    [ -z "$pid" ] && { pid=$job; name=mpirun; }
    if [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; then
      kills=$((kills + 1))
      wait "$job" && code=0 || code=$?
      [ "$name" = mpirun ] && pkill -9 -f -- "--model_dir $OUT/killed" || true
      from=$(sed -nE 's/.*resumed from .*: step ([0-9]+).*/\1/p' "$OUT/run-$attempts.log" | tail -1)
      last=$(grep -oE ' step [0-9]+ loss' "$OUT/run-$attempts.log" | tail -1 | grep -oE '[0-9]+' || true)
      echo "kill $kills: SIGKILL to $name $how; run resumed from step ${from:-0 (none yet)}, reached step ${last:-none}, exit $code"
      continue
    fi
  fi
  wait "$job" && code=0 || code=$?
  if [ "$code" != 0 ]; then
    echo "fault_inject.sh: run $attempts failed with exit $code; log $OUT/run-$attempts.log" >&2
    tail -20 "$OUT/run-$attempts.log" >&2
    exit 1
  fi
  if grep -q '^trained' "$OUT/run-$attempts.log"; then completed=1; fi
  [ "$kills" -ge "$KILLS" ] && break
  if [ "$completed" = 1 ]; then
    echo "fault_inject.sh: the job completed after only $kills kills; give it more rows" >&2
    exit 1
  fi
done
[ "$completed" = 1 ] || { echo "fault_inject.sh: the job never completed" >&2; exit 1; }
same=yes
cmp -s "$OUT/full/dense.pt" "$OUT/killed/dense.pt" || same=no
cmp -s "$OUT/full/ps/server-0.bin" "$OUT/killed/ps/server-0.bin" || same=no
echo "kills: $kills ($in_write inside a checkpoint write) over $attempts runs"
if [ "$same" = yes ]; then
  echo "final parameters vs uninterrupted: bitwise identical (dense.pt and the server's rows)"
else
  echo "final parameters vs uninterrupted: DIFFERENT"; exit 1
fi
