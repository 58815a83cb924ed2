#!/bin/sh
# A black-holed link between two "hosts": 3 ranks, each in its own network
# namespace on a veth bridge (tests/fault/netns.sh), loop all-reduces over
# TCP; after the 5th, rank 0 adds blackhole routes between ranks 1 and 2
# (both ways; the TCP connections stay open, packets vanish). Every rank
# must get an error; the time from the rule to each error is printed
# (tests/fault/nettest.c, mode blackhole). Skipped (77) where namespaces or
# bridges cannot be made (not root, no iproute2, no permission).
# NETNS_TRIALS (default 2).
B="${SN_TOP_BUILDDIR:-.}"
here=$(cd "$(dirname "$0")" && pwd)
N="${NETNS_TRIALS:-2}"
id=$(printf '%x' $(( ($$ % 65000) + 1 )))
trap 'sh "$here/netns.sh" down "$id" 3' EXIT
trap 'exit 1' INT TERM
env=$(sh "$here/netns.sh" up "$id" 3)
rc=$?
[ $rc = 77 ] && { echo "SKIP: network namespaces not available here"; exit 77; }
[ $rc = 0 ] || { echo "netns.sh up failed"; exit 1; }
eval "$env"
echo "namespaces: $SN_LAUNCH_NETNS{0,1,2}, NCCL_SOCKET_IFNAME=$NCCL_SOCKET_IFNAME"
NETTEST_FAULT_CMD="sh '$here/netns.sh' blackhole $id 1 2" NETTEST_HEAL_CMD="sh '$here/netns.sh' heal $id 1 2" \
  "$B/tests/fault/bin/nettest" blackhole "$N"
