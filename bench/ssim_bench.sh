#!/usr/bin/env bash
# SSIM throughput (docs/ssim.md, "Benchmark"): on generated data, towers
# [1024,512,256], batch 4096, 1 intra-op thread, one epoch each, same run:
#   plain        msrec train, MT-Backbone (each tower runs on its own scenario's rows)
#   all_towers   msrec train --train_mode all_shared (every tower on every row: the cost
#                the authors' MT-Backbone pays, and the search and retrain forward)
#   search       msrec ssim-search (the search epoch; counting the batches excluded)
#   retrain      msrec train --ssim_selector (frozen selector, k = 0.95)
# Prints samples/s (the training loop's own figure) and the time ratios against
# plain, beside the authors' PyTorch figures on this machine class.
#
# usage: bash bench/ssim_bench.sh [rows=250000]   (MSREC=path/to/msrec to override)
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${1:-250000}
MSREC=${MSREC:-./build/launch/msrec}
WORK=$(mktemp -d /tmp/msrec_ssim_bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

"$MSREC" gen --output "$WORK/data" --rows "$ROWS" --seed 7 > /dev/null
SCHEMA_FILE="$WORK/data/schema.txt"
COMMON=(--train "$WORK/data/train.csv" --schema_file "$SCHEMA_FILE" --model mt_backbone
        --hidden 1024,512,256 --batch_size 4096 --threads 1 --reader_threads 1
        --log_every 1000000 --epochs 1)

train_rate() {  # $1 name, rest: extra flags -> samples/s of the training loop
  local name=$1
  shift
  "$MSREC" train "${COMMON[@]}" --model_dir "$WORK/$name" "$@" 2> "$WORK/$name.log" > "$WORK/$name.out"
  sed -nE 's/^trained .*\(([0-9]+) samples\/s\)/\1/p' "$WORK/$name.out"
}

plain=$(train_rate plain)
all_towers=$(train_rate all_towers --train_mode all_shared)
"$MSREC" ssim-search "${COMMON[@]}" --output "$WORK/selector" 2> "$WORK/search.log" > "$WORK/search.out"
search=$(sed -nE 's/^searched .*\(([0-9]+) samples\/s\).*/\1/p' "$WORK/search.out")
retrain=$(train_rate retrain --ssim_selector "$WORK/selector" --ssim_topk 0.95)

echo "rows_train=$(( $(wc -l < "$WORK/data/train.csv") - 1 )) towers=1024,512,256 batch=4096 threads=1"
printf "%-11s %10s %14s %12s\n" phase msrec_sps time_vs_plain authors_sps
printf "%-11s %10s %14s %12s\n" plain "$plain" 1.00 5600
printf "%-11s %10s %14s %12s\n" all_towers "$all_towers" \
  "$(awk -v a="$plain" -v b="$all_towers" 'BEGIN{printf "%.2f", a/b}')" -
printf "%-11s %10s %14s %12s\n" search "$search" \
  "$(awk -v a="$plain" -v b="$search" 'BEGIN{printf "%.2f", a/b}')" 4200
printf "%-11s %10s %14s %12s\n" retrain "$retrain" \
  "$(awk -v a="$plain" -v b="$retrain" 'BEGIN{printf "%.2f", a/b}')" 5400
echo "search vs all_towers: $(awk -v a="$all_towers" -v b="$search" 'BEGIN{printf "%.2f", a/b}')x time;" \
  "retrain vs all_towers: $(awk -v a="$all_towers" -v b="$retrain" 'BEGIN{printf "%.2f", a/b}')x time" \
  "(targets vs the authors' plain epoch: search <= 1.5x, retrain <= 1.3x)"
grep -h "shared" "$WORK/search.out" || true
