#!/usr/bin/env bash
# "Sharing never hurts" (issue 16, item 2): on generated data with strong
# scenario effects, MT-Backbone against SSIM with msrec's default flags
# (ssim-search with --val runs the share sweep; the retrain's --ssim_topk
# defaults to the share it chose), and against the learned share and the
# authors' k = 0.95 for reference. Towers 128,64, batch 2048, 2 epochs.
# Prints validation and test overall AUC per data seed. The shares are chosen
# on validation data only; test is reported.
#
#   bash bench/ssim_default_check.sh [rows=300000] [seeds="3 4"] [threads=1]
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${1:-300000}
SEEDS=${2:-"3 4"}
THREADS=${3:-1}
MSREC=${MSREC:-$PWD/build/launch/msrec}
OUT=${OUT:-/tmp/msrec_ssim_default}
rm -rf "$OUT" && mkdir -p "$OUT"
val_test() {  # $1 stdout of train -> "val / test"
  awk '/^== validation ==/{v=1;t=0} /^== test ==/{t=1;v=0} /^overall/{if(v)a=$3; if(t)b=$3} END{print a " / " b}' "$1"
}
printf "%-5s %-17s %-17s %-17s %-17s %s\n" seed mt_backbone ssim_default ssim_learned ssim_k0.95 "chosen / learned share"
for seed in $SEEDS; do
  d="$OUT/s$seed"
  "$MSREC" gen --output "$d/data" --rows "$ROWS" --seed "$seed" > /dev/null 2>&1
  files=(--train "$d/data/train.csv" --val "$d/data/val.csv" --test "$d/data/test.csv"
         --schema_file "$d/data/schema.txt")
  common=(--hidden 128,64 --batch_size 2048 --threads "$THREADS" --log_every 1000000 --checkpoint_dir none)
  "$MSREC" train "${files[@]}" "${common[@]}" --epochs 2 --model mt_backbone --model_dir "$d/mt" > "$d/mt.out" 2> "$d/mt.err"
  "$MSREC" ssim-search --train "$d/data/train.csv" --val "$d/data/val.csv" --schema_file "$d/data/schema.txt" \
    "${common[@]}" --output "$d/sel" > "$d/search.out" 2> "$d/search.err"
  "$MSREC" train "${files[@]}" "${common[@]}" --epochs 2 --ssim_selector "$d/sel" --model_dir "$d/default" > "$d/default.out" 2> "$d/default.err"
  learned=$(sed -n 's/^learned_share=//p' "$d/sel/ssim.txt")
  chosen=$(sed -n 's/^validated_share=//p' "$d/sel/ssim.txt")
  "$MSREC" train "${files[@]}" "${common[@]}" --epochs 2 --ssim_selector "$d/sel" --ssim_topk "$learned" --model_dir "$d/learned" > "$d/learned.out" 2> "$d/learned.err"
  "$MSREC" train "${files[@]}" "${common[@]}" --epochs 2 --ssim_selector "$d/sel" --ssim_topk 0.95 --model_dir "$d/k95" > "$d/k95.out" 2> "$d/k95.err"
  printf "%-5s %-17s %-17s %-17s %-17s %s\n" "$seed" "$(val_test "$d/mt.out")" "$(val_test "$d/default.out")" \
    "$(val_test "$d/learned.out")" "$(val_test "$d/k95.out")" "$(printf '%.3f / %.3f' "$chosen" "$learned")"
  grep '^share sweep' "$d/search.out" | sed 's/^/      /'
done
