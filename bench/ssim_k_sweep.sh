#!/usr/bin/env bash
# SSIM share k chosen on VALIDATION data (docs/ssim.md, "Choosing k"): one
# search epoch (MT-Backbone, DNN towers), then MT-Backbone retrained with the
# frozen selector at each k, early stopping on validation AUC (patience 1, at
# most 10 epochs); prints the best overall validation AUC per k beside plain
# MT-Backbone's. Test data is never read.
#
# usage: bash bench/ssim_k_sweep.sh [data_dir=out/experiments/gen] [seed=2022] [ks="0.1 0.3 0.5 0.7 0.95"]
#   (data_dir holds train.csv, val.csv and schema.txt from `msrec gen`; it is
#   generated with --rows 250000 --seed 7 when absent.)  MSREC=path overrides the binary.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:-out/experiments/gen}
SEED=${2:-2022}
KS=${3:-"0.1 0.3 0.5 0.7 0.95"}
MSREC=${MSREC:-./build/launch/msrec}
if [ ! -f "$DATA/val.csv" ]; then
  "$MSREC" gen --output "$DATA" --rows 250000 --seed 7 > /dev/null
fi
WORK=$(mktemp -d /tmp/msrec_ssim_k.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
COMMON=(--train "$DATA/train.csv" --val "$DATA/val.csv" --schema_file "$DATA/schema.txt"
        --model mt_backbone --seed "$SEED" --batch_size 2048 --threads 1 --log_every 1000000)

val_auc() {  # $1 name, rest: extra train flags -> "auc best_epoch"
  local name=$1
  shift
  "$MSREC" train "${COMMON[@]}" --model_dir "$WORK/$name" --epochs 10 --early_stopping_patience 1 \
    --checkpoint_dir none "$@" > "$WORK/$name.out" 2> "$WORK/$name.err"
  # The validation table printed after training is the restored best epoch's.
  echo "$(awk '/^== validation ==/{v=1} /^== test ==/{v=0} v && /^overall/{print $3}' "$WORK/$name.out")" \
       "$(sed -nE 's/.*best validation AUC [0-9.]+ at epoch ([0-9]+).*/\1/p' "$WORK/$name.err" | tail -1)"
}

"$MSREC" ssim-search "${COMMON[@]}" --output "$WORK/selector" > "$WORK/search.out" 2> "$WORK/search.err"
printf "%-22s %9s %7s\n" run val_auc best_ep
printf "%-22s %9s %7s\n" mt_backbone $(val_auc plain)
for k in $KS; do
  printf "%-22s %9s %7s\n" "ssim k=$k" $(val_auc "k$k" --ssim_selector "$WORK/selector" --ssim_topk "$k")
done
grep -h "shared" "$WORK/search.out" || true
