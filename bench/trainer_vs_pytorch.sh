#!/usr/bin/env bash
# Trainer throughput, end to end (data loading included): msrec MT-Backbone at
# batch 2048 with 1 and 2 intra-op threads vs the plain-PyTorch reference
# (bench/pytorch_reference.py) on the same data, same run. Two datasets:
# MovieLens-100K (skipped if ../shared/data is absent) and generated data with
# 10^7-value vocabularies. Prints `dataset impl threads samples_per_sec` lines
# and the msrec/PyTorch ratios.
#
# usage: bash bench/trainer_vs_pytorch.sh [rows_generated=400000]
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${1:-400000}
MSREC=${MSREC:-./build/launch/msrec}
PY=/usr/bin/python3
WORK=$(mktemp -d /tmp/msrec_bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

# msrec: the training loop's own figure (reading and parsing the CSV, pulls,
# compute and pushes all inside it), and the whole process's wall time
# (start-up, scenario scan and model save included) as `wall`.
msrec_rate() {  # $1 train file, $2 schema, $3 threads -> "loop_rate wall_rate"
  local start end samples loop
  start=$(date +%s.%N)
  "$MSREC" train --train "$1" --schema "$2" --model mt_backbone --model_dir "$WORK/m$3" \
    --batch_size 2048 --threads "$3" --reader_threads 1 --log_every 1000000 \
    --epochs 1 2> "$WORK/log$3" > "$WORK/out$3"
  end=$(date +%s.%N)
  samples=$(sed -nE 's/^trained [0-9]+ steps, ([0-9]+) samples.*/\1/p' "$WORK/out$3")
  loop=$(sed -nE 's/^trained .*\(([0-9]+) samples\/s\)/\1/p' "$WORK/out$3")
  rm -rf "$WORK/m$3"
  echo "$loop $samples $start $end" | awk '{printf "%d %.0f", $1, $2 / ($4 - $3)}'
}

py_rate() {  # $1 train file, $2 threads, rest: reference args -> samples/s (end to end)
  local f=$1 t=$2
  shift 2
  "$PY" bench/pytorch_reference.py --train "$f" --threads "$t" "$@" |
    sed -nE 's/^samples_per_sec_e2e=(.*)/\1/p'
}

run() {  # $1 name, $2 file, $3 schema, rest: reference args
  local name=$1 file=$2 schema=$3
  shift 3
  for t in 1 2; do
    local m p loop wall
    m=$(msrec_rate "$file" "$schema" "$t")
    loop=${m% *}
    wall=${m#* }
    p=$(py_rate "$file" "$t" "$@")
    echo "$name msrec threads=$t samples_per_sec=$loop wall_samples_per_sec=$wall"
    echo "$name pytorch threads=$t samples_per_sec=$p"
    echo "$name ratio threads=$t msrec_over_pytorch=$(awk -v a="$loop" -v b="$p" 'BEGIN{printf "%.2f", a/b}')" \
      "wall_ratio=$(awk -v a="$wall" -v b="$p" 'BEGIN{printf "%.2f", a/b}')"
  done
}

ML=../shared/data/movielens-100k/ctr/train.csv
if [ -f "$ML" ]; then
  run movielens100k "$ML" 'label:label,scenario:scenario,genres:multi:|,*:cat' --multi 'genres:|'
else
  echo "movielens100k skipped: $ML not found"
fi

"$MSREC" gen --output "$WORK/gen" --rows "$ROWS" --seed 3 --val_fraction 0 --test_fraction 0 2>/dev/null
GEN_SCHEMA=$(tr '\n' ',' < "$WORK/gen/schema.txt" | sed 's/#[^,]*,//g; s/,,*/,/g; s/,$//')
DENSE=$(head -1 "$WORK/gen/train.csv" | tr ',' '\n' | grep -E '^d[0-9]+$' | paste -sd, -)
run generated_1e7 "$WORK/gen/train.csv" "$GEN_SCHEMA" --dense "$DENSE" --ignore true_prob --multi 'tags:|'
