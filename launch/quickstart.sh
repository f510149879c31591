#!/usr/bin/env bash
# README quick start, command 1: install, build, generate a synthetic
# multi-scenario dataset and train MT-Backbone on it with the embedded default
# (one process, in-process store). Prints per-scenario AUC and logloss beside
# the Bayes-optimal AUC of the data (from its true-probability column).
set -euo pipefail
cd "$(dirname "$0")/.."
bash launch/setup.sh
bash launch/build.sh -DMSREC_BUILD_TESTS=OFF -DMSREC_BUILD_BENCHMARKS=OFF
OUT=${OUT:-out/quickstart}
mkdir -p "$OUT"
./build/launch/msrec gen --output "$OUT/data" --rows 600000 --seed 1
./build/launch/msrec train \
  --schema_file "$OUT/data/schema.txt" \
  --train "$OUT/data/train.csv" --val "$OUT/data/val.csv" --test "$OUT/data/test.csv" \
  --model mt_backbone --model_dir "$OUT/model" --epochs 2 --batch_size 2048 \
  --threads 2 --reader_threads 1 --log_every 100 "$@"
