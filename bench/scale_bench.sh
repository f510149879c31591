#!/usr/bin/env bash
# Industrial scale on one machine (issue 13, acceptance 2): a RocksDB-backed
# table of >= 50M distinct keys trained for one epoch under a fixed store
# memory budget, then the in-memory store on a prefix for the ratio.
#
#   1. gen:    `msrec gen` streams --rows rows (default 100M) with large
#              vocabularies (--vocab_sizes; five fields of 1e9 values at Zipf
#              1.1 give ~13M distinct values each over 100M rows) to CSV.
#   2. train:  one epoch, mt_backbone, --store rocksdb --store_memory_mb
#              (default 3072), embedded; prints samples/s, peak RSS, the phase
#              times, the server's statistics line (row cache, block cache,
#              memtables, ~rows on disk = distinct keys) and the database's
#              size on disk.
#   3. ratio:  --store memory and --store rocksdb on the first --prefix_rows
#              rows of the same training file (default 20M: a memory store
#              of all 50M+ rows does not fit next to the run on 24 GiB), one
#              after the other, and their samples/s ratio.
# Every phase prints its wall time. Needs /usr/bin/time (launch/setup.sh).
#
#   bench/scale_bench.sh [--rows 100000000] [--prefix_rows 20000000]
#       [--store_memory_mb 3072] [--threads 1] [--batch_size 4096]
#       [--vocab_sizes LIST] [--dir /tmp/msrec_scale] [--keep_data]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
msrec="${MSREC_BINARY:-$root/build/launch/msrec}"
rows=100000000
prefix_rows=20000000
budget=3072
threads=1  # msrec's default; on 2 cores 1.06x the rate of 2 (docs/training.md, "Threads")
batch=4096
vocab="100,10000,1000000,1000000000,1000000000,1000000000,1000000000,1000000000"
dir=/tmp/msrec_scale
keep=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rows) rows="$2"; shift 2 ;;
    --prefix_rows) prefix_rows="$2"; shift 2 ;;
    --store_memory_mb) budget="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --batch_size) batch="$2"; shift 2 ;;
    --vocab_sizes) vocab="$2"; shift 2 ;;
    --dir) dir="$2"; shift 2 ;;
    --keep_data) keep=1; shift ;;
    *) echo "scale_bench.sh: unknown option '$1'" >&2; exit 2 ;;
  esac
done
[[ -x "$msrec" ]] || { echo "scale_bench.sh: no msrec binary at $msrec" >&2; exit 2; }
[[ -x /usr/bin/time ]] || { echo "scale_bench.sh: needs /usr/bin/time" >&2; exit 2; }
mkdir -p "$dir"
data="$dir/data-$rows"
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'); host: $(nproc) cores," \
     "$(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo); load $(cut -d' ' -f1-3 /proc/loadavg)"

phase_start=0
begin() { phase_start=$(date +%s.%N); echo "== $1"; }
end() { awk -v a="$phase_start" -v b="$(date +%s.%N)" 'BEGIN {printf "   phase time %.0f s\n", b - a}'; }

# Runs `msrec train` with the given extra flags; log in $dir/$1.log.
train() {
  local name="$1"
  shift
  rm -rf "$dir/model-$name"
  if ! /usr/bin/time -v -o "$dir/$name.time" "$msrec" train --schema_file "$data/schema.txt" \
      --model mt_backbone --batch_size "$batch" --epochs 1 --threads "$threads" \
      --log_every 2000 --seed 1 --checkpoint_dir none --shuffle_buffer 0 \
      --model_dir "$dir/model-$name" "$@" > "$dir/$name.log" 2>&1; then
    echo "scale_bench.sh: run $name failed; its log: $dir/$name.log" >&2
    tail -20 "$dir/$name.log" >&2
    exit 1
  fi
  local line
  line=$(grep -E '^trained [0-9]+ steps' "$dir/$name.log" | tail -1)
  echo "   $line"
  echo "   peak RSS $(awk -F': ' '/Maximum resident set size/ {printf "%.2f GiB", $2 / 1048576}' "$dir/$name.time")"
  grep -oE 'time so far: .*' "$dir/$name.log" | tail -1 | sed 's/^/   /'
  grep -oE 'server 0: requests .*' "$dir/$name.log" | tail -1 | sed 's/^/   /'
  rate=$(sed -E 's/.*\(([0-9.]+) samples\/s\).*/\1/' <<< "$line")
}

begin "gen: $rows rows, vocabularies $vocab"
if [[ ! -f "$data/train.csv" ]]; then
  "$msrec" gen --output "$data" --rows "$rows" --vocab_sizes "$vocab" --seed 7 \
    --val_fraction 0.001 --test_fraction 0.001 > "$dir/gen.log" 2>&1
fi
echo "   train.csv: $(du -h "$data/train.csv" | cut -f1)"
end

begin "train: one epoch, --store rocksdb --store_memory_mb $budget"
train rocksdb --train "$data/train.csv" --store rocksdb --store_memory_mb "$budget"
echo "   database on disk: $(du -sh "$dir/model-rocksdb/embeddings" | cut -f1)"
end

begin "ratio: memory vs rocksdb on the first $prefix_rows rows"
head -n $((prefix_rows + 1)) "$data/train.csv" > "$dir/prefix.csv"
train prefix-memory --train "$dir/prefix.csv" --store memory
memory_rate=$rate
train prefix-rocksdb --train "$dir/prefix.csv" --store rocksdb --store_memory_mb "$budget"
rocksdb_rate=$rate
awk -v m="$memory_rate" -v r="$rocksdb_rate" \
  'BEGIN {printf "   rocksdb / memory samples/s on the prefix: %.2fx\n", r / m}'
rm -f "$dir/prefix.csv"
end
[[ $keep -eq 1 ]] || rm -rf "$dir/model-"*
