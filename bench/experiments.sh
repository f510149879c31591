#!/usr/bin/env bash
# The model comparison of issues 3-5: every model (and training mode) on
# MovieLens-100K and on generated data, 3 seeds each, early stopping on
# validation AUC, test figures reported. Writes one JSON line per run to
# $OUT/runs.jsonl and the table to docs/results.md (bench/results_table.py).
#
# usage: bash bench/experiments.sh [out_dir=out/experiments] [datasets="ml100k gen"] [seeds="2022 2023 2024"]
#   MODELS="name ..." restricts the runs to those rows (names below);
#   RESULTS_OUT=file writes the table there instead of docs/results.md;
#   PATIENCE (1) and MAX_EPOCHS (10) set the early stopping.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-out/experiments}
DATASETS=${2:-"ml100k gen"}
SEEDS=${3:-"2022 2023 2024"}
MSREC=${MSREC:-./build/launch/msrec}
THREADS=${THREADS:-1}
GEN_ROWS=${GEN_ROWS:-250000}
mkdir -p "$OUT"

# row name | msrec flags [| ssim search options]. A third field runs
# `msrec ssim-search` once per dataset and seed with those --model_opts (the
# selector artefact is cached and reused by every row naming the same options)
# and retrains the row's model with the frozen selector (k = $SSIM_TOPK; the
# default -1 is msrec's default, auto: the share the search's validation sweep
# chose, docs/ssim.md).
SSIM_TOPK=${SSIM_TOPK:--1}
# Early stopping: stop after PATIENCE epochs without a better validation AUC,
# at most MAX_EPOCHS epochs.
PATIENCE=${PATIENCE:-1}
MAX_EPOCHS=${MAX_EPOCHS:-10}
RESULTS_OUT=${RESULTS_OUT:-docs/results.md}
ROWS=(
  "dnn|--model dnn"
  "deepfm|--model deepfm"
  "dcn|--model dcn"
  "st_backbone|--model mt_backbone --train_mode st"
  "finetune|--model mt_backbone --train_mode finetune"
  "mt_backbone|--model mt_backbone"
  "mt_backbone_s|--model mt_backbone --train_mode all_shared"
  "mt_backbone_deepfm|--model mt_backbone --model_opts backbone=deepfm"
  "mt_backbone_dcn|--model mt_backbone --model_opts backbone=dcn"
  "mt_backbone_big|--model mt_backbone --hidden 1024,512,256"
  "star|--model star"
  "hmoe|--model hmoe"
  "mmoe|--model mmoe"
  "ple|--model ple"
  "pepnet|--model pepnet"
  "midpg|--model midpg"
  "midpg_no_specific|--model midpg --model_opts no_specific=1"
  "midpg_no_shared|--model midpg --model_opts no_shared=1"
  "midpg_no_mi|--model midpg --model_opts mi=none"
  "midpg_no_scenario_bias|--model midpg --model_opts scenario_bias=0"
  "ssim_dnn|--model mt_backbone|backbone=dnn"
  "ssim_deepfm|--model mt_backbone --model_opts backbone=deepfm|backbone=deepfm"
  "ssim_dcn|--model mt_backbone --model_opts backbone=dcn|backbone=dcn"
  "ssim_r_dnn|--model mt_backbone --ssim_random --ssim_topk 0.95"
  "star_ssim|--model star|backbone=dnn"
  "hmoe_ssim|--model hmoe|backbone=dnn"
  "midpg_ssim|--model midpg|backbone=dnn"
)

dataset_flags() {  # $1 dataset -> flags (prepares generated data once)
  case $1 in
    ml100k)
      local d=../shared/data/movielens-100k/ctr
      [ -f "$d/train.csv" ] || return 1
      echo "--train $d/train.csv --val $d/val.csv --test $d/test.csv --schema label:label,scenario:scenario,genres:multi:|,*:cat"
      ;;
    gen)
      if [ ! -f "$OUT/gen/test.csv" ]; then
        "$MSREC" gen --output "$OUT/gen" --rows "$GEN_ROWS" --seed 7 >/dev/null 2>&1
      fi
      echo "--train $OUT/gen/train.csv --val $OUT/gen/val.csv --test $OUT/gen/test.csv --schema_file $OUT/gen/schema.txt"
      ;;
  esac
}

registered() {  # $1 model name -> 0 if the build knows it
  "$MSREC" info --model "$1" >/dev/null 2>&1
}

for ds in $DATASETS; do
  if ! flags=$(dataset_flags "$ds"); then
    echo "skip $ds: data not found"
    continue
  fi
  for row in "${ROWS[@]}"; do
    IFS='|' read -r name mflags ssim_opts <<< "$row"
    if [ -n "${MODELS:-}" ] && ! [[ " $MODELS " == *" $name "* ]]; then continue; fi
    model=$(echo "$mflags" | sed -E 's/.*--model ([a-z_]+).*/\1/')
    if ! registered "$model"; then
      echo "skip $name: model $model not in this build"
      continue
    fi
    for seed in $SEEDS; do
      dir="$OUT/$ds/$name/$seed"
      if [ -f "$dir/result.json" ]; then continue; fi
      rm -rf "$dir"
      mkdir -p "$dir"
      extra=""
      if [ -n "${ssim_opts:-}" ]; then
        sel="$OUT/$ds/ssim_selector_${ssim_opts//[=,]/_}/$seed"
        if [ ! -f "$sel/.done" ]; then
          rm -rf "$sel"
          mkdir -p "$(dirname "$sel")"
          # shellcheck disable=SC2086
          if ! "$MSREC" ssim-search $flags --model mt_backbone --model_opts "$ssim_opts" --seed "$seed" \
              --batch_size 2048 --threads "$THREADS" --output "$sel" > "$sel.log" 2>&1; then
            echo "FAILED ssim-search $ds $ssim_opts $seed: $(tail -1 "$sel.log")"
            continue
          fi
          touch "$sel/.done"
        fi
        extra="--ssim_selector $sel --ssim_topk $SSIM_TOPK"
      fi
      # shellcheck disable=SC2086
      if ! "$MSREC" train $flags $mflags $extra --model_dir "$dir/model" --seed "$seed" --epochs "$MAX_EPOCHS" \
          --early_stopping_patience "$PATIENCE" --batch_size 2048 --threads "$THREADS" --log_every 100000 \
          --checkpoint_dir none \
          > "$dir/stdout" 2> "$dir/stderr"; then
        echo "FAILED $ds $name $seed: $(tail -1 "$dir/stderr")"
        continue
      fi
      info=$("$MSREC" info ${mflags//--ssim_random/} --num_fields "$(sed -nE 's/^num_fields=//p' "$dir/model/job.txt")" \
        --num_dense "$(sed -nE 's/^num_dense=//p' "$dir/model/job.txt")" \
        --num_scenarios "$(sed -nE 's/^num_scenarios=//p' "$dir/model/job.txt")" 2>/dev/null | tr '\n' ' ')
      rate=$(sed -nE 's/^trained .*\(([0-9]+) samples\/s\)/\1/p' "$dir/stdout")
      test=$(grep '"split":"test"' "$dir/model/metrics.jsonl" | tail -1)
      best=$(grep -c '"split":"val"' "$dir/model/metrics.jsonl")
      echo "{\"dataset\":\"$ds\",\"row\":\"$name\",\"seed\":$seed,\"samples_per_sec\":${rate:-0},\"epochs_run\":$best,\"info\":\"$info\",\"test\":$test}" > "$dir/result.json"
      cat "$dir/result.json" >> "$OUT/runs.jsonl"
      echo "done $ds $name $seed: $(grep -A1 '== test' -m1 "$dir/stdout" >/dev/null; grep '^overall' "$dir/stdout" | tail -1)"
      rm -rf "$dir/model/embeddings.bin" "$dir/model/embeddings"
    done
  done
done
python3 bench/results_table.py "$OUT/runs.jsonl" > "$RESULTS_OUT"
echo "wrote $RESULTS_OUT"
