#!/bin/sh
# All-to-all-v zero-copy (tests/alltoallv.c --registered): every buffer from
# ncclMemAlloc and registered, at 2, 3, 4 and 8 ranks, so that calls made
# alone read the senders' buffers in place with the count check fused into
# the agreement (transports/shm/zcopy.h); every form, uneven and zero
# counts, count and datatype mismatches, overflow, all against the same
# expected images as the message path. Then with streaming stores (by the
# general threshold and by all-to-all-v's own), and
# with SNCCL_ALLTOALLV_CHECK=0 (the zero-copy path checks anyway), and
# with receive buffers from malloc (peers only read send buffers); then
# only even ranks registered, where a call may run zero-copy only when the
# unregistered ranks send nothing (no peer reads them: all zero counts, and
# some random cases at 2 ranks), and falls back on every rank otherwise.
# The log must show which path ran: a test that cannot tell would pass with
# the path broken off.
bin="${SN_TOP_BUILDDIR:-.}/tests/bin/alltoallv"
log="${TMPDIR:-/tmp}/snccl-a2av-zcopy-$$.log"
trap 'rm -f "$log"' EXIT
zc() { grep -c "zero-copy over registered buffers" "$log"; }
run() { # expect: "some" zero-copy calls or only "unregistered-send-nothing"; VAR=value ...; the program's arguments
  want=$1
  shift
  env NCCL_DEBUG=INFO NCCL_DEBUG_SUBSYS=COLL "$@" >"$log" 2>&1
  rc=$?
  grep "^alltoallv:" "$log"
  [ $rc -eq 0 ] || { grep -v "NCCL INFO" "$log" | tail -30; exit 1; }
  n=$(zc)
  echo "zero-copy all-to-all-v calls: $n (want $want)"
  case $want in
  some) [ "$n" -gt 0 ] || { echo "FAIL: no all-to-all-v ran zero-copy with every buffer registered"; exit 1; } ;;
  unregistered-send-nothing) # the log prefix names the rank: [1], [3], ... are the unregistered ones
    k=$(grep "zero-copy over registered buffers" "$log" | grep -E '\[[0-9]*[13579]\] ' | grep -vc "sends nothing")
    [ "$k" -eq 0 ] || { echo "FAIL: $k all-to-all-v calls ran zero-copy although an unregistered rank sent data"; exit 1; } ;;
  esac
  # every form ran zero-copy, and the mismatches were caught there
  for fn in "sncclAlltoAllv:" "sncclAlltoAllvMatrix:" "sncclAlltoAllvDynamic:" "some pairs disagreed"; do
    k=$(grep "zero-copy over registered buffers" "$log" | grep -c "$fn")
    [ "$want" != some ] || [ "$k" -gt 0 ] || { echo "FAIL: no zero-copy call matched '$fn'"; exit 1; }
  done
}
run some "$bin" --registered=all --nranks=2,3,4,8
run some SNCCL_SHM_NT_MIN=4096 "$bin" --registered=all --nranks=3
run some SNCCL_SHM_A2AV_NT_MIN=1 "$bin" --registered=all --nranks=4
run some SNCCL_ALLTOALLV_CHECK=0 "$bin" --registered=all --nranks=4
run some "$bin" --registered=send --nranks=3
run unregistered-send-nothing "$bin" --registered=even --nranks=2,3,8
exit 0
