#!/usr/bin/env bash
# RocksDB-backed rows against in-memory rows, through the one parameter-server
# path (issue 13, acceptance 1). Same data, model and flags in every run:
#   (m) embedded, --store memory
#   (r) embedded, --store rocksdb (row cache + RocksDB under --store_memory_mb)
#   (s) 1 worker + 1 RocksDB server under mpirun (launch/mpi_launch.sh)
# Each run is timed with /usr/bin/time -v (peak RSS; for (s) the largest rank).
# samples/s is the training loop's ("trained N steps, M samples in T s (X
# samples/s)"). Prints the ratios to (m). Runs are repeated --repeats times in
# turn (m r s m r s ...) and the medians are compared: the machine is shared.
#
#   bench/store_bench.sh [--rows 2000000] [--threads 2] [--batch_size 2048]
#       [--store_memory_mb 1024] [--repeats 1] [--dir /tmp/msrec_store_bench]
#       [--skip_mpi] [--vocab_sizes LIST] [--gen_seed 3] [-- extra train flags]
# --vocab_sizes and --gen_seed go to `msrec gen` (e.g. the scale benchmark's
# vocabularies on fewer rows).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
msrec="${MSREC_BINARY:-$root/build/launch/msrec}"
rows=2000000
threads=2
batch=2048
budget=1024
repeats=1
dir=/tmp/msrec_store_bench
skip_mpi=0
vocab=""
gen_seed=3
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rows) rows="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --batch_size) batch="$2"; shift 2 ;;
    --store_memory_mb) budget="$2"; shift 2 ;;
    --repeats) repeats="$2"; shift 2 ;;
    --dir) dir="$2"; shift 2 ;;
    --skip_mpi) skip_mpi=1; shift ;;
    --vocab_sizes) vocab="$2"; shift 2 ;;
    --gen_seed) gen_seed="$2"; shift 2 ;;
    --) shift; break ;;
    *) echo "store_bench.sh: unknown option '$1'" >&2; exit 2 ;;
  esac
done
extra=("$@")
[[ -x "$msrec" ]] || { echo "store_bench.sh: no msrec binary at $msrec" >&2; exit 2; }
[[ -x /usr/bin/time ]] || { echo "store_bench.sh: needs /usr/bin/time (apt-get install time)" >&2; exit 2; }

data="$dir/data-$rows-seed$gen_seed${vocab:+-$(cksum <<< "$vocab" | cut -d' ' -f1)}"
if [[ ! -f "$data/train.csv" ]]; then
  mkdir -p "$dir"
  "$msrec" gen --output "$data" --rows "$rows" --seed "$gen_seed" \
    ${vocab:+--vocab_sizes "$vocab"} >/dev/null
fi
common=(--schema_file "$data/schema.txt" --train "$data/train.csv" --model mt_backbone
        --batch_size "$batch" --epochs 1 --threads "$threads" --log_every 1000000 --seed 1
        --checkpoint_dir none --store_memory_mb "$budget" "${extra[@]+"${extra[@]}"}")

# Runs one configuration: "<samples/s> <peak RSS MiB>" on stdout.
run() {
  local name="$1"
  shift
  local log="$dir/$name.log"
  rm -rf "$dir/model-$name"
  if ! /usr/bin/time -v -o "$dir/$name.time" "$@" > "$log" 2>&1; then
    echo "store_bench.sh: run $name failed; its log: $log" >&2
    tail -20 "$log" >&2
    exit 1
  fi
  local line rate rss
  line=$(grep -E '^trained [0-9]+ steps' "$log" | tail -1)
  rate=$(sed -E 's/.*\(([0-9.]+) samples\/s\).*/\1/' <<< "$line")
  rss=$(awk -F': ' '/Maximum resident set size/ {print int($2 / 1024)}' "$dir/$name.time")
  [[ -n "$rate" ]] || { echo "store_bench.sh: no 'trained' line in $log" >&2; exit 1; }
  echo "$rate $rss"
}

echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'); host: $(nproc) cores, load average" \
     "$(cut -d' ' -f1-3 /proc/loadavg)"
echo "data: $rows rows (train.csv $(($(wc -l < "$data/train.csv") - 1))), mt_backbone," \
     "batch $batch, --threads $threads, --store_memory_mb $budget"
declare -a m_rate r_rate s_rate m_rss r_rss s_rss
for ((i = 0; i < repeats; ++i)); do
  read -r rate rss < <(run m "$msrec" train "${common[@]}" --store memory --model_dir "$dir/model-m")
  m_rate+=("$rate"); m_rss+=("$rss")
  echo "  (m) embedded memory:   $rate samples/s, peak RSS $rss MiB"
  read -r rate rss < <(run r "$msrec" train "${common[@]}" --store rocksdb --model_dir "$dir/model-r")
  r_rate+=("$rate"); r_rss+=("$rss")
  echo "  (r) embedded rocksdb:  $rate samples/s, peak RSS $rss MiB"
  grep -oE 'server 0: requests .*' "$dir/r.log" | tail -1 | sed 's/^/      /'
  if [[ $skip_mpi -eq 0 ]]; then
    read -r rate rss < <(run s bash "$root/launch/mpi_launch.sh" --binary "$msrec" --workers 1 \
                           --servers 1 -- "${common[@]}" --store rocksdb --model_dir "$dir/model-s")
    s_rate+=("$rate"); s_rss+=("$rss")
    echo "  (s) 1 worker + 1 rocksdb server (mpirun): $rate samples/s, peak RSS (largest rank) $rss MiB"
  fi
done
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
m=$(median "${m_rate[@]}"); r=$(median "${r_rate[@]}")
mr=$(median "${m_rss[@]}"); rr=$(median "${r_rss[@]}")
awk -v m="$m" -v r="$r" -v mr="$mr" -v rr="$rr" 'BEGIN {
  printf "medians: (m) %.0f samples/s, %d MiB; (r) %.0f samples/s, %d MiB\n", m, mr, r, rr
  printf "embedded rocksdb / memory: samples/s %.2fx, peak RSS %.2fx\n", r / m, rr / mr
}'
if [[ $skip_mpi -eq 0 ]]; then
  s=$(median "${s_rate[@]}")
  awk -v m="$m" -v s="$s" 'BEGIN { printf "1 worker + 1 rocksdb server / embedded memory: %.2fx\n", s / m }'
fi
