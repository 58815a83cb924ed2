#!/bin/sh
# netns.sh -- each rank its own "host": a network namespace per rank on a
# veth bridge, and rules that black-hole one link. The approach of
# tests/supernode.sh; the fork launcher puts rank r in namespace PREFIX<r>
# when SN_LAUNCH_NETNS=PREFIX and SN_LAUNCH_DOMAINS=NRANKS.
#
#   netns.sh up ID N          bridge snb<ID> (10.X.0.1/24, in the caller's
#                             namespace, where the fork launcher's bootstrap
#                             root listens) and namespaces sn<ID>n0..N-1,
#                             rank r at 10.X.0.<10+r> on veth snv<ID><r>;
#                             prints the environment to use (eval it)
#   netns.sh blackhole ID A B drop everything between ranks A and B, both
#                             ways (a blackhole route in each namespace: the
#                             connections stay open, packets vanish)
#   netns.sh heal ID A B      remove those routes
#   netns.sh cut ID A         take rank A's veth down on the bridge side
#   netns.sh down ID N        remove the namespaces, veths and bridge
# ID is 1-4 hex digits (e.g. from the caller's pid). Needs root, iproute2
# and permission to create namespaces and bridges; "up" exits 77 with the
# reason on stderr where that is not allowed.
set -u
cmd=${1:-}; id=${2:-}; shift 2 2>/dev/null || { sed -n '2,20p' "$0"; exit 2; }
ns="sn${id}n"
br="snb${id}"
net=10.$(( 0x${id} % 200 + 20 )).0
addr() { echo "$net.$((10 + $1))"; }
case $cmd in
up)
  n=$1
  [ "$(id -u)" = 0 ] || { echo "netns.sh: not root" >&2; exit 77; }
  command -v ip >/dev/null 2>&1 || { echo "netns.sh: no ip command (iproute2)" >&2; exit 77; }
  err=$(ip link add "$br" type bridge 2>&1) || { echo "netns.sh: cannot create a bridge: $err" >&2; exit 77; }
  ip addr add "$net.1/24" dev "$br" && ip link set "$br" up || { echo "netns.sh: bridge address" >&2; exit 1; }
  r=0
  while [ $r -lt "$n" ]; do
    err=$(ip netns add "$ns$r" 2>&1) || { echo "netns.sh: cannot create a network namespace: $err" >&2; "$0" down "$id" "$n"; exit 77; }
    err=$(ip link add "snh${id}$r" type veth peer name "snv${id}$r" 2>&1) ||
      { echo "netns.sh: no veth: $err" >&2; "$0" down "$id" "$n"; exit 77; }
    ip link set "snv${id}$r" netns "$ns$r" && ip link set "snh${id}$r" master "$br" && ip link set "snh${id}$r" up &&
      ip netns exec "$ns$r" ip addr add "$(addr $r)/24" dev "snv${id}$r" &&
      ip netns exec "$ns$r" ip link set "snv${id}$r" up && ip netns exec "$ns$r" ip link set lo up ||
      { echo "netns.sh: veth setup failed" >&2; "$0" down "$id" "$n"; exit 1; }
    r=$((r + 1))
  done
  echo "SN_LAUNCH_DOMAINS=$n SN_LAUNCH_NETNS=$ns NCCL_SOCKET_IFNAME=$br,snv${id}"
  echo "export SN_LAUNCH_DOMAINS SN_LAUNCH_NETNS NCCL_SOCKET_IFNAME"
  ;;
blackhole | heal)
  a=$1 b=$2 op=add
  [ "$cmd" = heal ] && op=del
  ip netns exec "$ns$a" ip route $op blackhole "$(addr "$b")/32" &&
    ip netns exec "$ns$b" ip route $op blackhole "$(addr "$a")/32"
  ;;
cut)
  ip link set "snh${id}$1" down
  ;;
down)
  r=0
  while [ $r -lt "$1" ]; do
    ip netns del "$ns$r" 2>/dev/null
    ip link del "snh${id}$r" 2>/dev/null
    r=$((r + 1))
  done
  ip link del "$br" 2>/dev/null
  exit 0
  ;;
*) sed -n '2,20p' "$0"; exit 2 ;;
esac
