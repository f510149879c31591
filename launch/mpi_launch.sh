#!/usr/bin/env bash
# Data-parallel `msrec train` under mpirun: builds the mpirun command for W
# workers + S parameter servers, prints it (one line, copy-pastable), then runs
# it (--dry_run: only prints). docs/training.md#distributed-training.
#
#   launch/mpi_launch.sh --workers 2 --servers 1 [--hostfile hosts] [--np_per_node N]
#       [--flagfile F]... [--mpirun_args "..."] [--binary PATH] [--dry_run] \
#       -- --train a.csv --schema_file s.txt --model_dir out/m ...
#
# Ranks: 0 .. W-1 are workers (rank 0 = worker 0 writes the model directory),
# W .. W+S-1 are servers (msrec gets --num_servers S: the last S ranks serve).
# Where they run:
#   no hostfile       every rank on this machine (--oversubscribe when W+S > cores);
#   --hostfile FILE   --map-by node: rank r goes to node r mod (number of nodes),
#                     nodes in hostfile order, so workers spread over the nodes
#                     first and servers follow round-robin (2 nodes, 2 workers +
#                     2 servers: node A = worker 0 + server 0, node B = worker 1
#                     + server 1);
#   + --np_per_node N --map-by ppr:N:node: ranks fill nodes N at a time in order
#                     (ranks 0..N-1 on the first node, N..2N-1 on the next...).
# Every rank gets --bind-to none (a worker's --threads may use several cores)
# unless --mpirun_args names its own --bind-to; --map-by likewise. With a
# hostfile, LD_LIBRARY_PATH and OMP_NUM_THREADS are exported to the remote
# ranks (-x), and the binary and data paths must exist on every node.
# GPUs: with `--device cuda` each worker takes the GPU of its local rank (its
# rank among this node's processes), so put at most as many workers on a node
# as it has GPUs (--np_per_node G with G = GPUs per node, servers counted: they
# use no GPU but do take a local rank); `--device cuda:N` pins every worker to
# GPU N. CUDA workers sync dense gradients over NCCL (MSREC_WITH_CUDA builds).
# Exit code: mpirun's (non-zero when any rank failed); 2 for bad arguments.
set -euo pipefail

usage() {
  sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
}
die() {
  echo "mpi_launch.sh: $*" >&2
  exit 2
}

root="$(cd "$(dirname "$0")/.." && pwd)"
workers=1
servers=1
hostfile=""
np_per_node=""
mpirun_args=""
binary="${MSREC_BINARY:-$root/build/launch/msrec}"
dry_run=0
flagfiles=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --workers) workers="${2:?--workers needs a value}"; shift 2 ;;
    --servers) servers="${2:?--servers needs a value}"; shift 2 ;;
    --hostfile) hostfile="${2:?--hostfile needs a file}"; shift 2 ;;
    --np_per_node) np_per_node="${2:?--np_per_node needs a value}"; shift 2 ;;
    --flagfile) flagfiles+=("$(realpath -m "${2:?--flagfile needs a file}")"); shift 2 ;;
    --mpirun_args) mpirun_args="${2?--mpirun_args needs a value}"; shift 2 ;;
    --binary) binary="${2:?--binary needs a path}"; shift 2 ;;
    --dry_run) dry_run=1; shift ;;
    -h|--help) usage ;;
    --) shift; break ;;
    *) die "unknown option '$1' (msrec train flags go after --; see --help)" ;;
  esac
done
train_flags=("$@")

[[ "$workers" =~ ^[0-9]+$ && "$workers" -ge 1 ]] || die "--workers must be >= 1, got '$workers'"
[[ "$servers" =~ ^[0-9]+$ ]] || die "--servers must be >= 0, got '$servers'"
if [[ "$workers" -gt 1 && "$servers" -eq 0 ]]; then
  die "$workers workers need parameter servers: --servers 1 or more"
fi
if [[ -n "$np_per_node" ]]; then
  [[ "$np_per_node" =~ ^[0-9]+$ && "$np_per_node" -ge 1 ]] || die "--np_per_node must be >= 1"
fi
for f in "${flagfiles[@]+"${flagfiles[@]}"}"; do [[ -r "$f" ]] || die "cannot read flagfile $f"; done
if [[ -n "$hostfile" ]]; then
  [[ -r "$hostfile" ]] || die "cannot read hostfile $hostfile"
elif [[ ! -x "$binary" ]]; then
  die "no msrec binary at $binary (build it, or give --binary PATH)"
fi
for flag in "${train_flags[@]+"${train_flags[@]}"}"; do
  case "$flag" in
    --num_servers|--num_servers=*) die "give --servers, not --num_servers (the launcher sets it)" ;;
  esac
done

np=$((workers + servers))
# Slots: this machine's cores, or the hostfile's slots= (a host line without
# slots= counts as 1: Open MPI may count its cores instead, and then the extra
# --oversubscribe only permits what is not needed).
if [[ -n "$hostfile" ]]; then
  slots=$(awk '{sub(/#.*/, "")} NF {n = 1; for (i = 2; i <= NF; ++i)
            if ($i ~ /^slots=/) { split($i, a, "="); n = a[2] } s += n} END {print s + 0}' \
            "$hostfile")
  [[ "$slots" -gt 0 ]] || die "no hosts in $hostfile"
else
  slots=$(nproc)
fi

cmd=(mpirun)
[[ "$(id -u)" -eq 0 ]] && cmd+=(--allow-run-as-root)
[[ "$np" -gt "$slots" ]] && cmd+=(--oversubscribe)
cmd+=(-np "$np")
if [[ -n "$hostfile" ]]; then
  cmd+=(--hostfile "$hostfile")
  for var in LD_LIBRARY_PATH OMP_NUM_THREADS; do
    [[ -n "${!var:-}" ]] && cmd+=(-x "$var")
  done
fi
if [[ "$mpirun_args" != *--map-by* ]]; then
  if [[ -n "$np_per_node" ]]; then
    cmd+=(--map-by "ppr:$np_per_node:node")
  elif [[ -n "$hostfile" ]]; then
    cmd+=(--map-by node)
  fi
fi
[[ "$mpirun_args" != *--bind-to* ]] && cmd+=(--bind-to none)
if [[ -n "$mpirun_args" ]]; then
  read -r -a extra <<< "$mpirun_args"
  cmd+=("${extra[@]}")
fi
cmd+=("$binary" train)
for f in "${flagfiles[@]+"${flagfiles[@]}"}"; do cmd+=("--flagfile=$f"); done
cmd+=(--num_servers "$servers")
cmd+=("${train_flags[@]+"${train_flags[@]}"}")

printf '%q ' "${cmd[@]}" | sed 's/ $//'
echo
[[ "$dry_run" -eq 1 ]] && exit 0
exec "${cmd[@]}"
