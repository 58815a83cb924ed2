#!/bin/sh
# Zero-copy collectives (transports/shm/zcopy.h) through the collective
# matrix (tests/coll.c --registered): every buffer from ncclMemAlloc and
# registered, so calls read peers' buffers in place; results are checked
# against the same expected images as the message path, so on and off give
# identical results. Then SNCCL_SHM_ZCOPY=0 over the same buffers, and a mix
# (only even ranks registered: every call but broadcast from an even root
# must fall back on every rank). The log must show that zero-copy ran, or
# did not, as expected: a test that cannot tell would pass with the path
# broken off.
bin="${SN_TOP_BUILDDIR:-.}/tests/bin/coll"
log="${TMPDIR:-/tmp}/snccl-zcopy-$$.log"
trap 'rm -f "$log"' EXIT
count() { grep -c "zero-copy over registered buffers" "$log"; }
notbcast() { grep "zero-copy over registered buffers" "$log" | grep -vc " Broadcast "; }

NCCL_DEBUG=INFO NCCL_DEBUG_SUBSYS=COLL "$bin" --registered=all --nranks=2,4,8 --large "$@" >"$log" 2>&1
rc=$?; grep "^coll:" "$log"
[ $rc -eq 0 ] || { grep -v "NCCL INFO" "$log" | tail -30; exit 1; }
n=$(count); echo "zero-copy calls (all registered): $n"
[ "$n" -gt 0 ] || { echo "FAIL: no call ran zero-copy with every buffer registered"; exit 1; }

SNCCL_SHM_ZCOPY=0 NCCL_DEBUG=INFO NCCL_DEBUG_SUBSYS=COLL "$bin" --registered=all --nranks=2,4 "$@" >"$log" 2>&1
rc=$?; grep "^coll:" "$log"
[ $rc -eq 0 ] || { grep -v "NCCL INFO" "$log" | tail -30; exit 1; }
n=$(count); echo "zero-copy calls (SNCCL_SHM_ZCOPY=0): $n"
[ "$n" -eq 0 ] || { echo "FAIL: SNCCL_SHM_ZCOPY=0 still ran zero-copy"; exit 1; }

NCCL_DEBUG=INFO NCCL_DEBUG_SUBSYS=COLL "$bin" --registered=even --nranks=2,3,8 "$@" >"$log" 2>&1
rc=$?; grep "^coll:" "$log"
[ $rc -eq 0 ] || { grep -v "NCCL INFO" "$log" | tail -30; exit 1; }
n=$(notbcast); b=$(count); echo "zero-copy calls (even ranks registered): $b, $n of them not broadcasts"
[ "$n" -eq 0 ] || { echo "FAIL: a call ran zero-copy although odd ranks had no registered buffers"; exit 1; }
[ "$b" -gt 0 ] || { echo "FAIL: no broadcast from a registered root ran zero-copy"; exit 1; }

# all-reduce in 4 KiB chunks (many barriers per call) with streaming stores
# for every output of 4 KiB or more, at odd rank counts
SNCCL_SHM_ZCOPY_CHUNK=4096 SNCCL_SHM_NT_MIN=4096 NCCL_DEBUG=INFO NCCL_DEBUG_SUBSYS=COLL \
  "$bin" --registered=all --nranks=3,5 --large "$@" >"$log" 2>&1
rc=$?; grep "^coll:" "$log"
[ $rc -eq 0 ] || { grep -v "NCCL INFO" "$log" | tail -30; exit 1; }
n=$(count); echo "zero-copy calls (4 KiB chunks, streaming stores): $n"
[ "$n" -gt 0 ] || { echo "FAIL: no call ran zero-copy"; exit 1; }
# the push forms (the owner writes into every output) at every size, once
# with plain and once with streaming stores
for nt in 0 4096; do
  SNCCL_SHM_ZCOPY_PUSH_MIN=0 SNCCL_SHM_NT_MIN=$nt NCCL_DEBUG=INFO NCCL_DEBUG_SUBSYS=COLL \
    "$bin" --registered=all --nranks=2,3,5 --large "$@" >"$log" 2>&1
  rc=$?; grep "^coll:" "$log"
  [ $rc -eq 0 ] || { grep -v "NCCL INFO" "$log" | tail -30; exit 1; }
  n=$(count); echo "zero-copy calls (push at every size, SNCCL_SHM_NT_MIN=$nt): $n"
  [ "$n" -gt 0 ] || { echo "FAIL: no call ran zero-copy"; exit 1; }
done
exit 0
