#!/usr/bin/env bash
# SSIM fidelity, side by side (issue 16): the SSIM authors' code
# (../shared/peers/run_ssim_peer.sh: dgliu/KDD25_SSIM, PyTorch DNN backbone,
# 3 scenarios) and msrec on the same ML-100K splits, seeds, features and
# hyper-parameters. Both use: the 10 single-valued columns (not `genres`),
# d = 16, towers [1024,512,256], batch 4096, Adam 1e-3 with l2 1e-7, one search
# epoch with the selector [1024,512,256] (lr 1e-5, threshold 0.55, mask-loss
# weight 0.4, temperature annealed to 1000), retrain share k = 0.95, at most 20
# epochs, stop at the first epoch whose validation AUC does not improve, one
# thread, and one fixed batch order for every epoch (msrec:
# --reshuffle_each_epoch=false; the authors' trainer reuses one batch list).
# msrec's retrain is also run with its default share (the share the search
# learned, --ssim_topk -1).
#
# Splits (ML-100K ctr columns, 3 scenarios):
#   time        ../shared/data/movielens-100k/ctr as shipped (split by time)
#   age_random  the same 100k rows shuffled (seed 7) and split 80/10/10 at
#               random, the scenario redefined as the user's age group
#               (< 25, 25-34, >= 35)
#
# Prints one line per (split, seed, implementation): test AUC of MT-Backbone
# and SSIM, the gain, epochs run, msrec's search share; then per split the
# mean and standard deviation of each implementation's gain.
#
#   bash bench/ssim_fidelity.sh PEER_GIT_DIR [out=/tmp/msrec_ssim_fidelity]
#        [seeds="2022 2023 2024"] [splits="time age_random"]
# PEER_GIT_DIR: a git directory of dgliu/KDD25_SSIM (see ../shared/peers/README.md);
# needs python3-torch python3-pandas python3-sklearn python3-tqdm.
set -euo pipefail
cd "$(dirname "$0")/.."
PEER_GIT=${1:?usage: ssim_fidelity.sh PEER_GIT_DIR [out] [seeds] [splits]}
OUT=${2:-/tmp/msrec_ssim_fidelity}
SEEDS=${3:-"2022 2023 2024"}
SPLITS=${4:-"time age_random"}
MSREC=${MSREC:-$PWD/build/launch/msrec}
PEERS=${PEERS:-$PWD/../shared/peers}
ML=${ML:-$PWD/../shared/data/movielens-100k/ctr}
[ -f "$ML/train.csv" ] || { echo "ssim_fidelity.sh: no ML-100K data at $ML" >&2; exit 2; }
[ -x "$PEERS/run_ssim_peer.sh" ] || [ -f "$PEERS/run_ssim_peer.sh" ] ||
  { echo "ssim_fidelity.sh: no peer runner at $PEERS/run_ssim_peer.sh" >&2; exit 2; }
/usr/bin/python3 -c "import torch, pandas, sklearn, tqdm" 2> /dev/null || {
  echo "ssim_fidelity.sh: needs python3-torch python3-pandas python3-sklearn python3-tqdm" >&2; exit 2; }
mkdir -p "$OUT"

make_split() {  # $1 split name -> prints its directory
  case $1 in
    time) echo "$ML" ;;
    age_random)
      local d="$OUT/splits/age_random"
      if [ ! -f "$d/test.csv" ]; then
        mkdir -p "$d"
        /usr/bin/python3 - "$ML" "$d" << 'EOF'
import sys
import pandas as pd
src, dst = sys.argv[1], sys.argv[2]
rows = pd.concat([pd.read_csv(f"{src}/{p}.csv", dtype=str, keep_default_na=False)
                  for p in ("train", "val", "test")], ignore_index=True)
rows = rows.sample(frac=1.0, random_state=7).reset_index(drop=True)
age = rows["age"].astype(int)
rows["scenario"] = ((age >= 25).astype(int) + (age >= 35).astype(int)).astype(str)
n = len(rows)
cut1, cut2 = int(n * 0.8), int(n * 0.9)
rows[:cut1].to_csv(f"{dst}/train.csv", index=False)
rows[cut1:cut2].to_csv(f"{dst}/val.csv", index=False)
rows[cut2:].to_csv(f"{dst}/test.csv", index=False)
EOF
      fi
      echo "$d" ;;
    *) echo "ssim_fidelity.sh: unknown split '$1'" >&2; exit 2 ;;
  esac
}

# The authors' settings, in msrec's flags.
SCHEMA="label:label,scenario:scenario,genres:ignore,*:cat"
COMMON=(--schema "$SCHEMA" --hidden 1024,512,256 --batch_size 4096 --threads 1 --log_every 1000000
        --checkpoint_dir none --weight_decay 1e-7 --sparse_weight_decay 1e-7
        --reshuffle_each_epoch=false)
TRAIN=(--epochs 20 --early_stopping_patience 1)
SEARCH=(--ssim_hidden 1024,512,256 --ssim_eps 0.55 --ssim_lambda 0.4 --ssim_t_final 1000
        --ssim_selector_lr 1e-5 --ssim_backbone_lr 1e-3 --ssim_backbone_weight_decay 1e-7)

test_auc() { awk '/^== test ==/{t=1} t && /^overall/{print $3; exit}' "$1"; }
epochs_run() { grep -c "read: rows_ok" "$1" || true; }

results="$OUT/results.tsv"
printf "split\tseed\timpl\tmt_auc\tssim_auc\tgain\tmt_epochs\tssim_epochs\tsearch_share\n" > "$results"
for split in $SPLITS; do
  data=$(make_split "$split")
  files=(--train "$data/train.csv" --val "$data/val.csv" --test "$data/test.csv")
  # The authors' code (MT-Backbone with the mask off, then SSIM) on every seed
  # whose results OUT does not hold yet, on one core while msrec runs on the
  # other (both use one thread).
  todo=""
  for seed in $SEEDS; do
    [ -f "$OUT/peer-$split/ssim_s$seed.json" ] || todo="$todo $seed"
  done
  peer_pid=""
  if [ -n "$todo" ]; then
    bash "$PEERS/run_ssim_peer.sh" "$PEER_GIT" "$data" "$OUT/peer-$split" "$todo" |
      sed "s/^/  peer $split: /" &
    peer_pid=$!
  fi
  for seed in $SEEDS; do
    w="$OUT/msrec-$split-s$seed"
    rm -rf "$w" && mkdir -p "$w"
    "$MSREC" train "${files[@]}" "${COMMON[@]}" "${TRAIN[@]}" --model mt_backbone --seed "$seed" \
      --model_dir "$w/mt" > "$w/mt.out" 2> "$w/mt.err"
    "$MSREC" ssim-search --train "$data/train.csv" "${COMMON[@]}" "${SEARCH[@]}" --seed "$seed" \
      --output "$w/selector" > "$w/search.out" 2> "$w/search.err"
    share=$(sed -n 's/^learned_share=//p' "$w/selector/ssim.txt")
    for k in 0.95 -1; do
      "$MSREC" train "${files[@]}" "${COMMON[@]}" "${TRAIN[@]}" --model mt_backbone --seed "$seed" \
        --ssim_selector "$w/selector" --ssim_topk "$k" --model_dir "$w/ssim_k$k" \
        > "$w/ssim_k$k.out" 2> "$w/ssim_k$k.err"
    done
  done
  [ -z "$peer_pid" ] || wait "$peer_pid"
  for seed in $SEEDS; do
    w="$OUT/msrec-$split-s$seed"
    share=$(sed -n 's/^learned_share=//p' "$w/selector/ssim.txt")
    mt=$(test_auc "$w/mt.out")
    for k in 0.95 -1; do
      s=$(test_auc "$w/ssim_k$k.out")
      name="msrec k=$k"; [ "$k" = -1 ] && name="msrec k=learned"
      printf "%s\t%s\t%s\t%s\t%s\t%.4f\t%s\t%s\t%s\n" "$split" "$seed" "$name" "$mt" "$s" \
        "$(echo "$s - $mt" | bc -l)" "$(epochs_run "$w/mt.err")" "$(epochs_run "$w/ssim_k$k.err")" \
        "$share" >> "$results"
    done
    /usr/bin/python3 - "$OUT/peer-$split" "$seed" "$split" >> "$results" << 'EOF'
import json, re, sys
d, seed, split = sys.argv[1], sys.argv[2], sys.argv[3]
mt = json.load(open(f"{d}/mt_s{seed}.json"))
ss = json.load(open(f"{d}/ssim_s{seed}.json"))
# The authors' log prints "train_share_num: N" per epoch, the search's first.
shares = re.findall(r"train_share_num: ([0-9.]+)", open(f"{d}/ssim_s{seed}.log").read())
share = f"{float(shares[0]) / ss['n_train']:.3f}" if shares else "-"
print(f"{split}\t{seed}\tauthors k=0.95\t{mt['test_auc']:.4f}\t{ss['test_auc']:.4f}\t"
      f"{ss['test_auc'] - mt['test_auc']:.4f}\t{mt['epochs_run']}\t{ss['epochs_run']}\t{share}")
EOF
    tail -3 "$results" | sed 's/^/  /'
  done
done
echo "== per split: mean +- std of the SSIM - MT-Backbone gain (test AUC) over seeds"
/usr/bin/python3 - "$results" << 'EOF'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
groups = {}
for r in rows:
    groups.setdefault((r["split"], r["impl"]), []).append(r)
print(f"{'split':<11} {'implementation':<16} {'MT-Backbone':>12} {'SSIM':>8} {'gain':>17}  epochs (MT/SSIM)")
for (split, impl), rs in groups.items():
    g = [float(r["gain"]) for r in rs]
    mt = statistics.mean(float(r["mt_auc"]) for r in rs)
    ss = statistics.mean(float(r["ssim_auc"]) for r in rs)
    sd = statistics.stdev(g) if len(g) > 1 else 0.0
    ep = "/".join(",".join(r[k] for r in rs) for k in ("mt_epochs", "ssim_epochs"))
    print(f"{split:<11} {impl:<16} {mt:>12.4f} {ss:>8.4f} {statistics.mean(g):>+8.4f} +- {sd:.4f}  {ep}")
EOF
