#!/usr/bin/env bash
# Day-by-day training (docs/training.md, "Day-by-day training"): 5 "days" of
# `msrec gen` logs (new rows of one synthetic world, scenario shares drifting
# day to day) are
# trained in sequence, each day starting from the day before (--init_from),
# beside training each day from scratch and training once on every day so far.
# Prints each day's test AUC for the three.
#   bash bench/daily.sh [--rows N] [--days D] [--threads T]
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=200000; DAYS=5; THREADS=2
while [ $# -gt 0 ]; do
  case "$1" in
    --rows) ROWS=$2; shift 2 ;;
    --days) DAYS=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
M=${MSREC:-./build/launch/msrec}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
auc() { grep -A100 "== test ==" "$1" | awk '$1 == "overall" {print $3; exit}'; }
COMMON="--model mt_backbone --batch_size 2048 --threads $THREADS --log_every 100000 --checkpoint_dir none"
printf "%-4s %12s %12s %12s\n" day continued scratch all_so_far
ALL=""
for d in $(seq 1 "$DAYS"); do
  # The same synthetic world every day (seed 1), new rows (first_row), shares drifting.
  DECAY=$(python3 -c "print(0.5 + 0.1 * $d)")
  $M gen --output "$W/day$d" --rows "$ROWS" --seed 1 --first_row $((d * ROWS)) \
    --scenario_decay "$DECAY" >/dev/null 2>&1
  D="$W/day$d"
  ALL="${ALL:+$ALL,}$D/train.csv"
  INIT=""
  [ "$d" -gt 1 ] && INIT="--init_from $W/cont$((d - 1))"
  $M train $COMMON --schema_file "$D/schema.txt" --train "$D/train.csv" --test "$D/test.csv" \
    --model_dir "$W/cont$d" $INIT > "$W/cont$d.log" 2>&1
  $M train $COMMON --schema_file "$D/schema.txt" --train "$D/train.csv" --test "$D/test.csv" \
    --model_dir "$W/scratch$d" > "$W/scratch$d.log" 2>&1
  $M train $COMMON --schema_file "$D/schema.txt" --train "$ALL" --test "$D/test.csv" \
    --model_dir "$W/all$d" > "$W/all$d.log" 2>&1
  printf "%-4s %12s %12s %12s\n" "$d" "$(auc "$W/cont$d.log")" "$(auc "$W/scratch$d.log")" \
    "$(auc "$W/all$d.log")"
done
