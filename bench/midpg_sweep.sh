#!/usr/bin/env bash
# MI-DPG investigation on VALIDATION data (docs/midpg.md, "Why MI-DPG trails
# MT-Backbone on generated data"): one seed, early stopping on validation AUC
# (patience 1, at most 10 epochs), one line per variant with the best overall
# validation AUC. Test data is never read.
#
# usage: bash bench/midpg_sweep.sh [data_dir=out/experiments/gen] [seeds=2022]
#   (data_dir holds train.csv, val.csv and schema.txt from `msrec gen`; it is
#   generated with --rows 250000 --seed 7 when absent. seeds: one seed or a
#   comma-separated list, e.g. 2022,2023,2024: one line per variant and seed,
#   then the mean over the seeds.)  MSREC=path overrides the binary;
#   VARIANTS="name|flags;..." overrides the list below; BATCH=n the batch
#   size (2048).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:-out/experiments/gen}
IFS=',' read -ra SEEDS <<< "${2:-2022}"
MSREC=${MSREC:-./build/launch/msrec}
BATCH=${BATCH:-2048}  # mini-batch size of every run
if [ ! -f "$DATA/val.csv" ]; then
  "$MSREC" gen --output "$DATA" --rows 250000 --seed 7 > /dev/null
fi
DEFAULT_VARIANTS="mt_backbone|--model mt_backbone;\
midpg|--model midpg;\
no_mi|--model midpg --model_opts mi=none;\
beta0.01|--model midpg --model_opts beta=0.01;\
mi_cls|--model midpg --model_opts mi=cls;\
rank2|--model midpg --model_opts rank=2;\
rank8|--model midpg --model_opts rank=8;\
rank8_no_mi|--model midpg --model_opts rank=8;mi=none;\
factor_std1|--model midpg --model_opts factor_std=1;mi=none;\
lr3e-3|--model midpg --model_opts mi=none --lr 3e-3;\
dz0|--model midpg --model_opts dz=0;mi=none"
VARIANTS=${VARIANTS:-$DEFAULT_VARIANTS}
WORK=$(mktemp -d /tmp/msrec_midpg_sweep.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
printf "%-14s %5s %9s %7s  %s\n" variant seed val_auc best_ep flags
IFS=';' read -ra ROWS <<< "$VARIANTS"
for SEED in "${SEEDS[@]}"; do
i=0
while [ $i -lt ${#ROWS[@]} ]; do
  row=${ROWS[$i]}
  i=$((i + 1))
  # model_opts values contain ';': a row continues while the next item has no '|'.
  while [ $i -lt ${#ROWS[@]} ] && [[ ${ROWS[$i]} != *"|"* ]]; do
    row="$row;${ROWS[$i]}"
    i=$((i + 1))
  done
  name=${row%%|*}
  flags=${row#*|}
  opts=""
  if [[ $flags == *"--model_opts "* ]]; then  # one --model_opts value, ';'-separated
    opts=${flags#*--model_opts }
    opts=${opts%% *}
    flags=${flags/--model_opts $opts/}
  fi
  # shellcheck disable=SC2086
  "$MSREC" train --train "$DATA/train.csv" --val "$DATA/val.csv" --schema_file "$DATA/schema.txt" \
    $flags ${opts:+--model_opts "$opts"} --model_dir "$WORK/$name.$SEED" --seed "$SEED" --epochs 10 \
    --early_stopping_patience 1 --batch_size "$BATCH" --threads 1 --log_every 1000000 \
    --checkpoint_dir none > "$WORK/$name.out" 2> "$WORK/$name.err" || {
    echo "FAILED $name: $(tail -1 "$WORK/$name.err")"
    continue
  }
  # The validation table printed after training is the restored best epoch's.
  auc=$(awk '/^== validation ==/{v=1} /^== test ==/{v=0} v && /^overall/{print $3}' "$WORK/$name.out")
  epoch=$(sed -nE 's/.*best validation AUC [0-9.]+ at epoch ([0-9]+).*/\1/p' "$WORK/$name.err" | tail -1)
  printf "%-14s %5s %9s %7s  %s\n" "$name" "$SEED" "$auc" "${epoch:-last}" \
    "$flags ${opts:+--model_opts $opts}" | tee -a "$WORK/results.txt"
done
done
if [ ${#SEEDS[@]} -gt 1 ]; then
  echo "mean validation AUC over seeds ${SEEDS[*]}:"
  awk '!($1 in n) {order[++k] = $1} {sum[$1] += $3; n[$1]++}
       END {for (i = 1; i <= k; i++) printf "%-14s %9.4f  (%d seeds)\n", order[i], sum[order[i]] / n[order[i]], n[order[i]]}' \
    "$WORK/results.txt"
fi
