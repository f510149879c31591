#!/usr/bin/env bash
# Two nodes for real (issue 17): two network namespaces joined by a veth pair,
# each with its own address and hostname, stand for two machines. A hostfile
# names them and launch/mpi_launch.sh --hostfile runs 2 workers + 1 server
# over both (rank r on node r mod 2: worker 0 and the server on node A,
# worker 1 on node B). Open MPI starts node B's daemon through a small rsh
# agent that enters B's namespace, and its TCP transport (btl and oob) is
# restricted to the veth subnet, so every message between the nodes crosses
# the veth link; no traffic leaves the namespaces this test creates.
#
#   1. the job on one node (no hostfile) and the same job on the two nodes end
#      with bitwise equal dense.pt and server rows;
#   2. the link is cut mid-run (ip link set ... down): the job must end within
#      its timeouts with a message naming the unreachable rank; after the link
#      is back, --resume finishes it, equal to the one-node job.
#
# Exit 77 (CTest: skipped) when network namespaces cannot be created.
#
#   tests/two_node_test.sh MSREC_BINARY [WORK_DIR]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
msrec="$(realpath "${1:?usage: two_node_test.sh MSREC_BINARY [WORK_DIR]}")"
work="${2:-/tmp/msrec_two_node.$$}"
skip() { echo "two_node_test: SKIP: $*"; exit 77; }
fail() { echo "two_node_test: FAIL: $*"; exit 1; }

[[ "$(id -u)" -eq 0 ]] || skip "creating network namespaces needs root"
command -v ip > /dev/null || skip "no 'ip' command (iproute2)"
command -v unshare > /dev/null || skip "no 'unshare' command (util-linux)"
id=$(( $$ % 250 + 1 ))
ns_a="msrec_a$$"
ns_b="msrec_b$$"
veth_a="msva$$"
veth_b="msvb$$"
subnet="10.213.$id.0/24"
ip_a="10.213.$id.1"
ip_b="10.213.$id.2"

cleanup() {
  for ns in "$ns_a" "$ns_b"; do
    pids=$(ip netns pids "$ns" 2> /dev/null || true)
    [[ -n "$pids" ]] && kill -9 $pids 2> /dev/null || true
    ip netns del "$ns" 2> /dev/null || true
  done
  rm -rf "$work"
}
if ! ip netns add "$ns_a" 2> /dev/null; then
  skip "cannot create a network namespace (ip netns add: not permitted here)"
fi
trap cleanup EXIT
ip netns add "$ns_b"
ip link add "$veth_a" type veth peer name "$veth_b" || skip "cannot create a veth pair"
ip link set "$veth_a" netns "$ns_a"
ip link set "$veth_b" netns "$ns_b"
ip -n "$ns_a" addr add "$ip_a/24" dev "$veth_a"
ip -n "$ns_b" addr add "$ip_b/24" dev "$veth_b"
for ns in "$ns_a" "$ns_b"; do ip -n "$ns" link set lo up; done
ip -n "$ns_a" link set "$veth_a" up
ip -n "$ns_b" link set "$veth_b" up
# A cut link shows up in TCP only as unacknowledged data: Linux retransmits for
# tcp_retries2 (15: about 15 minutes) before it fails the connection. Here (the
# namespaces' own setting) 6 retries, about 25 s: longer than msrec's 10 s timeouts, so msrec
# names the unreachable rank first, short enough that mpirun's daemon link
# fails soon after msrec's own timeout fired and mpirun can end the job; on a
# real cluster the same is oob_tcp_keepalive_* plus the hosts' tcp_retries2.
for ns in "$ns_a" "$ns_b"; do ip netns exec "$ns" sysctl -q -w net.ipv4.tcp_retries2=6; done

mkdir -p "$work"
# The rsh agent Open MPI calls as `agent HOST COMMAND...`: runs COMMAND in
# HOST's namespace with HOST as the hostname (as ssh to that machine would).
cat > "$work/agent.sh" << EOF
#!/usr/bin/env bash
host=\$1; shift
case "\$host" in
  $ip_a) ns=$ns_a ;;
  $ip_b) ns=$ns_b ;;
  *) echo "agent: unknown host \$host" >&2; exit 255 ;;
esac
exec ip netns exec "\$ns" unshare --uts /bin/sh -c \
  "hostname \$host; export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; \$*"
EOF
chmod +x "$work/agent.sh"
printf '%s slots=2\n%s slots=2\n' "$ip_a" "$ip_b" > "$work/hosts"

"$msrec" gen --output "$work/data" --rows 30000 --num_fields 6 --seed 4 > /dev/null 2>&1 ||
  fail "msrec gen failed"
job_flags=(--schema_file "$work/data/schema.txt" --train "$work/data/train.csv"
           --model mt_backbone --epochs 5 --batch_size 256 --threads 1 --deterministic
           --checkpoint_every_steps 10 --log_every 1 --ps_timeout_s 10 --comm_timeout_s 10)
launch=("$root/launch/mpi_launch.sh" --binary "$msrec" --workers 2 --servers 1)
two_node_args="--mca plm_rsh_agent $work/agent.sh --mca btl tcp,self \
--mca btl_tcp_if_include $subnet --mca oob_tcp_if_include $subnet \
--mca oob_tcp_keepalive_time 20 --mca oob_tcp_keepalive_intvl 2 --mca oob_tcp_keepalive_probes 3"

# Runs the job on the two nodes: mpirun on node A (its namespace and hostname).
two_nodes() {  # $1 model dir, rest: extra msrec flags
  local dir=$1; shift
  timeout 300 ip netns exec "$ns_a" unshare --uts /bin/sh -c 'hostname "$0"; exec "$@"' "$ip_a" \
    "${launch[@]}" --hostfile "$work/hosts" --mpirun_args "$two_node_args" \
    -- "${job_flags[@]}" --model_dir "$dir" "$@"
}
same_parameters() {  # $1 $2 model dirs
  cmp -s "$1/dense.pt" "$2/dense.pt" && cmp -s "$1/ps/server-0.bin" "$2/ps/server-0.bin"
}

echo "== one node"
"${launch[@]}" -- "${job_flags[@]}" --model_dir "$work/one" > "$work/one.log" 2>&1 ||
  { tail -20 "$work/one.log"; fail "the one-node job failed"; }
grep '^trained' "$work/one.log"

echo "== two nodes ($ip_a in $ns_a, $ip_b in $ns_b, link $veth_a-$veth_b)"
two_nodes "$work/two" > "$work/two.log" 2>&1 || { tail -30 "$work/two.log"; fail "the two-node job failed"; }
grep '^trained' "$work/two.log"
same_parameters "$work/one" "$work/two" || fail "two-node parameters differ from the one-node job's"
echo "two nodes: dense.pt and the server's rows equal the one-node job's"

echo "== link cut mid-run"
start=$(date +%s)
two_nodes "$work/cut" > "$work/cut.log" 2>&1 &
job=$!
manifest="$work/cut/checkpoints/ckpt-0000000020/MANIFEST"
for _ in $(seq 1 1200); do [[ -f "$manifest" ]] && break; sleep 0.1; done
[[ -f "$manifest" ]] || { tail -20 "$work/cut.log"; fail "no checkpoint at step 20"; }
ip -n "$ns_b" link set "$veth_b" down
cut_at=$(date +%s)
wait "$job" && code=0 || code=$?
ended=$(( $(date +%s) - cut_at ))
echo "job ended ${ended} s after the cut with exit $code"
[[ "$code" -ne 0 ]] || fail "the job did not notice the cut link"
[[ "$code" -ne 124 ]] || { tail -30 "$work/cut.log"; fail "the job hung after the cut (timeout)"; }
# Worker 0 (node A) times out in a collective with worker 1 (node B) and names it.
named="rank 1 (world rank 1) on $ip_b"
grep -m1 -F "$named" "$work/cut.log" | cut -c1-400 || true
grep -qF "$named" "$work/cut.log" || { tail -30 "$work/cut.log"; fail "no message names the unreachable rank"; }
[[ "$ended" -le 90 ]] || fail "the job took ${ended} s to end after the cut (timeouts 10 s)"
for ns in "$ns_a" "$ns_b"; do
  pids=$(ip netns pids "$ns" || true)
  [[ -n "$pids" ]] && kill -9 $pids 2> /dev/null || true
done
ip -n "$ns_b" link set "$veth_b" up
echo "== resume after the link is back"
two_nodes "$work/cut" --resume > "$work/resume.log" 2>&1 || { tail -30 "$work/resume.log"; fail "the resumed job failed"; }
grep -E '^resumed|resumed from' "$work/resume.log" | head -1
grep '^trained' "$work/resume.log"
same_parameters "$work/one" "$work/cut" || fail "the resumed job's parameters differ from the one-node job's"
echo "resumed: dense.pt and the server's rows equal the one-node job's (total $(( $(date +%s) - start )) s)"
echo "two_node_test: PASS"
