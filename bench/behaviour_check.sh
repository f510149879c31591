#!/usr/bin/env bash
# Records what training writes, bit for bit, for every train mode, SSIM search
# + retrain and a 2-worker job, so that a refactoring of the trainer can show
# it changed nothing: run it before and after and diff the outputs.
#   bash bench/behaviour_check.sh > before.txt   (then again > after.txt)
# Prints "<run> <file> <sha256>" lines. Deterministic: --deterministic,
# one intra-op thread, synchronous servers, batch sharding. optimizer.pt is
# left out: LibTorch keys an optimizer's saved state by tensor addresses, so
# its bytes differ from run to run even when the state is the same.
set -euo pipefail
cd "$(dirname "$0")/.."
MSREC=${MSREC:-./build/launch/msrec}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
$MSREC gen --output "$W/data" --rows 6000 --seed 5 >/dev/null 2>&1
D="$W/data"
COMMON="--schema_file $D/schema.txt --train $D/train.csv --val $D/val.csv --batch_size 256
  --threads 1 --reader_threads 1 --deterministic --seed 7 --log_every 1000 --shuffle_buffer 3000"
run() {  # name, extra flags...
  local name=$1; shift
  $MSREC train $COMMON --model_dir "$W/$name" "$@" >"$W/$name.log" 2>&1 ||
    { cat "$W/$name.log" >&2; echo "$name failed" >&2; exit 1; }
}
run mt --model mt_backbone --epochs 2
run all_shared --model mt_backbone --train_mode all_shared --epochs 2
run st --model mt_backbone --train_mode st --epochs 2
run finetune --model mt_backbone --train_mode finetune --finetune_shared_epochs 1 --epochs 2
run midpg --model midpg --epochs 2
run early --model mt_backbone --epochs 3 --early_stopping_patience 1
$MSREC ssim-search $COMMON --model mt_backbone --output "$W/selector" >"$W/search.log" 2>&1 ||
  { cat "$W/search.log" >&2; exit 1; }
run ssim --model mt_backbone --ssim_selector "$W/selector" --epochs 2
mpirun --allow-run-as-root --oversubscribe -np 3 $MSREC train $COMMON --model mt_backbone \
  --epochs 2 --num_servers 1 --ps_sync --data_sharding batches --model_dir "$W/workers2" \
  >"$W/workers2.log" 2>&1 || { cat "$W/workers2.log" >&2; exit 1; }
cd "$W"
find mt all_shared st finetune midpg early selector ssim workers2 -type f \
  \( -name '*.pt' -o -name '*.bin' \) ! -name '*optimizer.pt' | sort | xargs sha256sum | awk '{print $2, $1}'
