#!/bin/sh
# ep-rail.sh -- the MoE dispatch goal experiment: two emulated scale-up
# domains, each in its own network namespace on a veth bridge (shared
# memory inside a domain, TCP between), the inter-domain veths rate-limited
# with `tc qdisc ... tbf`, and dispatch timed on the rail route and on the
# direct route in alternating rounds (perf/ep_perf). Prints each run's
# table; the inter-domain bytes per rank are printed next to the dedup
# formula's value.
#
#   perf/compare/ep-rail.sh [-P RANKS] [-t TOKENS] [-H HIDDEN] [-k TOPK] [-e EXPERTS] [-R ROUNDS]
#                           [-n ITERS] [-b RATE] [-g ROUTING] [-c plain|reduced] [BUILD_DIR]
#
# Defaults: 4 ranks (2 x 2), 128 tokens/rank, hidden 2048, top-8, 64
# experts, uniform routing, reduced combine, 3 rounds, 5 iterations, 500mbit per direction
# per domain. Needs root, ip (iproute2), veth, bridges and sch_tbf; says
# which is missing and exits 77 otherwise.
P=4 T=128 H=2048 K=8 E=64 rounds=3 iters=5 rate=500mbit routing=uniform comb=reduced
while getopts P:t:H:k:e:R:n:b:g:c: o; do
  case $o in
  P) P=$OPTARG ;; t) T=$OPTARG ;; H) H=$OPTARG ;; k) K=$OPTARG ;; e) E=$OPTARG ;;
  R) rounds=$OPTARG ;; n) iters=$OPTARG ;; b) rate=$OPTARG ;; g) routing=$OPTARG ;; c) comb=$OPTARG ;;
  *) sed -n '2,17p' "$0"; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
build=${1:-${SNCCL_BUILD_DIR:-./build}}
bin="$build/perf/ep_perf"
test -x "$bin" || { echo "no $bin (build first)"; exit 1; }
id=$(printf '%04x' $(( $$ % 65536 )))
ns="se${id}d" br="seb${id}"
tmp=$(mktemp -d)
cleanup() {
  for d in 0 1; do ip netns del "$ns$d" 2>/dev/null; ip link del "seh${id}$d" 2>/dev/null; done
  ip link del "$br" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
why=""
if [ "$(id -u)" != 0 ]; then why="not root"
elif ! command -v ip >/dev/null 2>&1; then why="no ip command (iproute2)"
elif ! command -v tc >/dev/null 2>&1; then why="no tc command (iproute2)"
elif ! ip link add "$br" type bridge 2>"$tmp/err"; then why="cannot create a bridge: $(cat "$tmp/err")"
else
  net=10.$((0x${id} % 200 + 20)).1
  ip addr add "$net.1/24" dev "$br" && ip link set "$br" up || why="bridge address"
  for d in 0 1; do
    [ -n "$why" ] && break
    ip netns add "$ns$d" 2>"$tmp/err" || { why="cannot create a network namespace: $(cat "$tmp/err")"; break; }
    ip link add "seh${id}$d" type veth peer name "sev${id}$d" 2>"$tmp/err" || { why="no veth: $(cat "$tmp/err")"; break; }
    ip link set "sev${id}$d" netns "$ns$d" && ip link set "seh${id}$d" master "$br" && ip link set "seh${id}$d" up &&
      ip netns exec "$ns$d" ip addr add "$net.$((10 + d))/24" dev "sev${id}$d" &&
      ip netns exec "$ns$d" ip link set "sev${id}$d" up && ip netns exec "$ns$d" ip link set lo up ||
      { why="veth setup failed"; break; }
    # both directions of each domain's link: out of the namespace, and into it
    ip netns exec "$ns$d" tc qdisc add dev "sev${id}$d" root tbf rate "$rate" burst 256kb latency 100ms 2>"$tmp/err" &&
      tc qdisc add dev "seh${id}$d" root tbf rate "$rate" burst 256kb latency 100ms 2>>"$tmp/err" ||
      { why="tc tbf unavailable (sch_tbf): $(cat "$tmp/err")"; break; }
  done
fi
if [ -n "$why" ]; then
  echo "SKIP: $why"
  exit 77
fi
echo "# 2 domains in network namespaces $ns{0,1}, inter-domain veths limited to $rate each way (tc tbf)"
echo "# ep_perf -P $P -t $T -H $H -k $K -e $E -R $routing -c $comb -n $iters, $rounds rounds of rail then direct"
export SN_LAUNCH_DOMAINS=2 SN_LAUNCH_NETNS="$ns" NCCL_SOCKET_IFNAME="$br,sev${id}"
r=1
while [ "$r" -le "$rounds" ]; do
  for route in rail direct; do
    echo "## round $r, route $route"
    "$bin" -P "$P" -t "$T" -H "$H" -k "$K" -e "$E" -R "$routing" -c "$comb" -n "$iters" -w 1 -r "$route" || exit 1
  done
  r=$((r + 1))
done
