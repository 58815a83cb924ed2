#!/bin/sh
# All-to-all-v (tests/alltoallv.c) on shared memory, 1..9 ranks: the
# library's own choice, then each algorithm forced (SNCCL_ALGO), pairwise
# with small pieces so that blocks span many of them, and without the count
# exchange (SNCCL_ALLTOALLV_CHECK=0). The library reads its
# environment once per process: one run per configuration.
#
# Calls made alone settle their counts in the zero-copy block (no exchange
# round; the data on the message path): the first run's log must show that
# for every form and for the mismatch cases, and a run without the block
# (SNCCL_SHM_ZCOPY=0) covers the exchange round for calls made alone.
bin="${SN_TOP_BUILDDIR:-.}/tests/bin/alltoallv"
log="${TMPDIR:-/tmp}/snccl-a2av-shm-$$.log"
trap 'rm -f "$log"' EXIT
NCCL_DEBUG=INFO NCCL_DEBUG_SUBSYS=COLL "$bin" "$@" >"$log" 2>&1
rc=$?
grep -v "NCCL INFO" "$log" | tail -40
[ $rc -eq 0 ] || exit 1
for fn in "sncclAlltoAllv:" "sncclAlltoAllvMatrix:" "sncclAlltoAllvDynamic:" "(some pairs disagreed)"; do
  k=$(grep "counts checked in the shared block" "$log" | grep -c "$fn")
  echo "calls with counts settled in the shared block matching '$fn': $k"
  [ "$k" -gt 0 ] || { echo "FAIL: no call matched '$fn'"; exit 1; }
done
SNCCL_SHM_ZCOPY=0 "$bin" "$@" || exit 1
SNCCL_ALGO=alltoallv:direct "$bin" "$@" || exit 1
SNCCL_ALGO=alltoallv:pairwise SNCCL_CHUNK_SIZE=4096 "$bin" "$@" || exit 1
# without the count exchange (the caller vouches for the counts); the last
# rank slow where a peer could overwrite the counts it reads (case "burst")
SNCCL_ALLTOALLV_CHECK=0 SNCCL_TEST_A2AV_LAG_US=300 "$bin" "$@" || exit 1
