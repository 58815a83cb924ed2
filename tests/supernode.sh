#!/bin/sh
# The emulated supernode (tools/launch SN_LAUNCH_DOMAINS): ranks of one
# scale-up domain talk over shared memory, domains over sockets.
#  1. 2 domains x 4 ranks and 4 x 2: the collective matrix with the tuner's
#     own choices, and the tuner must pick the hierarchical algorithm for
#     some calls (NCCL_DEBUG_SUBSYS=TUNING says so);
#  2. every algorithm forced in turn (SNCCL_ALGO) on 2 x 4 (collectives an
#     algorithm lacks run the default);
#  3. SNCCL_TOPO_DUMP_FILE writes what was detected, with every host's node
#     scan (exchanged at init); snccl-tune reads it back;
#  4. where the kernel and privileges allow, each domain in its own network
#     namespace on a veth bridge, so the bytes between domains cross a real
#     network stack (skipped with the reason otherwise).
set -u
top="${SN_TOP_BUILDDIR:-.}"
coll="$top/tests/bin/coll"
tmp=$(mktemp -d)
fail=0
ok() { echo "PASS $1"; }
bad() { echo "FAIL $1"; fail=1; }

for shape in "2 8" "4 8"; do
  set -- $shape
  d=$1 n=$2
  # --large adds ~1M-element cases: hier is the pick for large messages,
  # the log-step algorithms for small ones
  if SN_LAUNCH_DOMAINS=$d NCCL_DEBUG=INFO NCCL_DEBUG_SUBSYS=TUNING "$coll" --nranks=$n --large --deadline=300 \
      >"$tmp/run" 2>&1; then
    ok "$d domains x $((n / d)) ranks, tuner's choice"
  else
    tail -20 "$tmp/run"; bad "$d domains x $((n / d)) ranks, tuner's choice"
  fi
  if grep -q ': hier (predicted' "$tmp/run"; then
    ok "tuner picked hier on $d x $((n / d)) ($(grep -c ': hier (predicted' "$tmp/run") decisions)"
  else
    bad "tuner never picked hier on $d x $((n / d))"; grep 'predicted' "$tmp/run" | sort -u | head
  fi
done

for algo in ring direct rd tree rhd bruck pairwise hier sag dbt oneshot; do
  if SN_LAUNCH_DOMAINS=2 SNCCL_ALGO=$algo "$coll" --nranks=8 --counts=0,1,7,1031 --deadline=300 >"$tmp/run" 2>&1; then
    ok "SNCCL_ALGO=$algo on 2 x 4"
  else
    tail -20 "$tmp/run"; bad "SNCCL_ALGO=$algo on 2 x 4"
  fi
done

if SN_LAUNCH_DOMAINS=2 SNCCL_TOPO_DUMP_FILE="$tmp/dump.topo" "$coll" --nranks=6 --colls=allreduce --dtypes=float \
    --counts=7 >"$tmp/run" 2>&1 && "$top/snccl-tune" --colls=allreduce --max=64K "$tmp/dump.topo" >"$tmp/tune" 2>&1 &&
    grep -q '6 ranks, 2 hosts, 2 domain' "$tmp/tune" &&
    [ "$(grep -c '^# host .*(rank [0-9]*, pid [0-9]*): [0-9]* NUMA node' "$tmp/dump.topo")" -eq 2 ]; then
  ok "topology dump reloads (6 ranks, 2 domains, both hosts' node scans)"
else
  cat "$tmp/run" "$tmp/tune" "$tmp/dump.topo" 2>/dev/null | tail -30; bad "topology dump reloads"
fi

# ---- network namespaces ----
id=$(printf '%04x' $(( $$ % 65536 )))
ns="sn${id}d"
br="snb${id}"
cleanup() {
  for d in 0 1; do ip netns del "$ns$d" 2>/dev/null; ip link del "snh${id}$d" 2>/dev/null; done
  ip link del "$br" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
why=""
if [ "$(id -u)" != 0 ]; then why="not root"
elif ! command -v ip >/dev/null 2>&1; then why="no ip command (iproute2)"
elif ! ip link add "$br" type bridge 2>"$tmp/err"; then why="cannot create a bridge: $(cat "$tmp/err")"
else
  ip addr add 10.$((0x${id} % 200 + 20)).0.1/24 dev "$br" && ip link set "$br" up || why="bridge address"
  net=10.$((0x${id} % 200 + 20)).0
  for d in 0 1; do
    [ -n "$why" ] && break
    ip netns add "$ns$d" 2>"$tmp/err" || { why="cannot create a network namespace: $(cat "$tmp/err")"; break; }
    ip link add "snh${id}$d" type veth peer name "snv${id}$d" 2>"$tmp/err" || { why="no veth: $(cat "$tmp/err")"; break; }
    ip link set "snv${id}$d" netns "$ns$d" && ip link set "snh${id}$d" master "$br" && ip link set "snh${id}$d" up &&
      ip netns exec "$ns$d" ip addr add "$net.$((10 + d))/24" dev "snv${id}$d" &&
      ip netns exec "$ns$d" ip link set "snv${id}$d" up && ip netns exec "$ns$d" ip link set lo up ||
      { why="veth setup failed"; break; }
  done
fi
if [ -n "$why" ]; then
  echo "SKIP network namespaces: $why"
else
  if SN_LAUNCH_DOMAINS=2 SN_LAUNCH_NETNS="$ns" NCCL_SOCKET_IFNAME="snb${id},snv${id}" \
      "$coll" --nranks=8 --counts=0,7,1031 --deadline=300 >"$tmp/run" 2>&1; then
    ok "2 domains x 4 ranks in separate network namespaces (veth bridge $br)"
  else
    tail -20 "$tmp/run"; bad "2 domains x 4 ranks in separate network namespaces"
  fi
fi
exit $fail
