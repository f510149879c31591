#!/usr/bin/env bash
# Data-parallel scaling of `msrec train` on generated data, one run each, same
# data, model and per-worker batch, --threads 1 per process:
#   (a) 1 process, embedded store (no mpirun)
#   (b) 1 worker + 1 parameter server   (mpirun -np 2, launch/mpi_launch.sh)
#   (c) 2 workers + 1 parameter server  (mpirun -np 3; each worker reads half
#       the data: --data_sharding chunks; a step trains 2 x the batch)
# samples/s is parsed from msrec's "trained N steps, M samples in T s (X
# samples/s)" line (the training loop only: evaluation excluded; M counts
# every worker's rows). Prints the scaling efficiency (c) / (2 (b)) and the
# speed-up (c) / (a), then the all-reduce bandwidth bench when it is built.
#
#   bench/scaling_bench.sh [--rows 400000] [--fields 8] [--batch_size 1024]
#       [--epochs 1] [--model mt_backbone] [--dir /tmp/msrec_scaling] [-- extra train flags]
# Env: MSREC_BINARY (default build/launch/msrec), ALLREDUCE_BENCH (default
# build/bench/allreduce_bench; skipped when missing).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
msrec="${MSREC_BINARY:-$root/build/launch/msrec}"
allreduce="${ALLREDUCE_BENCH:-$root/build/bench/allreduce_bench}"
rows=400000
fields=8
batch=1024
epochs=1
model=mt_backbone
dir=/tmp/msrec_scaling
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rows) rows="$2"; shift 2 ;;
    --fields) fields="$2"; shift 2 ;;
    --batch_size) batch="$2"; shift 2 ;;
    --epochs) epochs="$2"; shift 2 ;;
    --model) model="$2"; shift 2 ;;
    --dir) dir="$2"; shift 2 ;;
    --) shift; break ;;
    *) echo "scaling_bench.sh: unknown option '$1'" >&2; exit 2 ;;
  esac
done
extra=("$@")
[[ -x "$msrec" ]] || { echo "scaling_bench.sh: no msrec binary at $msrec" >&2; exit 2; }

data="$dir/data-$rows-$fields"
if [[ ! -f "$data/train.csv" ]]; then
  mkdir -p "$dir"
  "$msrec" gen --output "$data" --rows "$rows" --num_fields "$fields" --seed 1 >/dev/null
fi
common=(--schema_file "$data/schema.txt" --train "$data/train.csv" --model "$model"
        --batch_size "$batch" --epochs "$epochs" --threads 1 --reader_threads 1
        --log_every 1000000 --seed 1 "${extra[@]+"${extra[@]}"}")

# Runs one configuration; its samples/s goes to $rate, the whole line to $line.
rate=""
line=""
phases=""
run() {
  local name="$1"
  shift
  local log="$dir/$name.log"
  rm -rf "$dir/model-$name"
  if ! "$@" > "$log" 2>&1; then
    echo "scaling_bench.sh: run $name failed; its log: $log" >&2
    tail -20 "$log" >&2
    exit 1
  fi
  line=$(grep -E '^trained [0-9]+ steps' "$log" | tail -1)
  rate=$(sed -E 's/.*\(([0-9.]+) samples\/s\).*/\1/' <<< "$line")
  [[ -n "$rate" ]] || { echo "scaling_bench.sh: no 'trained' line in $log" >&2; exit 1; }
  # Each worker's phase times ("compute" includes the dense all-reduce).
  phases=$(grep -oE 'time so far: .*' "$log" | sed 's/time so far: /    /' || true)
}

echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'); host: $(nproc) cores, load average" \
     "$(cut -d' ' -f1-3 /proc/loadavg); $(mpirun --version 2>/dev/null | head -1)"
echo "data: $rows rows ($fields categorical fields), train.csv $(($(wc -l < "$data/train.csv") - 1)) rows;" \
     "model $model, batch $batch per worker, $epochs epoch(s), --threads 1"

run a "$msrec" train "${common[@]}" --model_dir "$dir/model-a"
a=$rate
echo "(a) 1 process, embedded:      $line"
echo "$phases"
run b bash "$root/launch/mpi_launch.sh" --binary "$msrec" --workers 1 --servers 1 -- \
  "${common[@]}" --model_dir "$dir/model-b"
b=$rate
echo "(b) 1 worker + 1 server:      $line"
echo "$phases"
run c bash "$root/launch/mpi_launch.sh" --binary "$msrec" --workers 2 --servers 1 -- \
  "${common[@]}" --model_dir "$dir/model-c"
c=$rate
echo "(c) 2 workers + 1 server:     $line"
echo "$phases"
awk -v a="$a" -v b="$b" -v c="$c" 'BEGIN {
  printf "samples/s: (a) %.0f  (b) %.0f  (c) %.0f\n", a, b, c
  printf "scaling efficiency (c) / (2 x (b)) = %.2f\n", c / (2 * b)
  printf "speed-up over one process (c) / (a) = %.2f\n", c / a
  printf "parameter-server overhead (b) / (a) = %.2f\n", b / a
}'

if [[ -x "$allreduce" ]]; then
  echo "all-reduce bandwidth, 2 ranks ($allreduce):"
  as_root=()
  [[ "$(id -u)" -eq 0 ]] && as_root=(--allow-run-as-root)
  mpirun "${as_root[@]+"${as_root[@]}"}" --oversubscribe -np 2 "$allreduce"
else
  echo "all-reduce bench not built ($allreduce): cmake -DMSREC_BUILD_BENCHMARKS=ON, make allreduce_bench"
fi
