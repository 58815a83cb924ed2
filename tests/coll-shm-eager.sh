#!/bin/sh
# Small all-reduces through the shared block (transports/shm/eager.h,
# tests/eager.c): every case with the path on, where the log must show that
# it ran (a test that cannot tell would pass with the path broken off);
# the basic cases again with SNCCL_SHM_EAGER_MAX=0 and with an algorithm
# forced, where it must not run; and the collective matrix's small counts
# with a limit of 64 bytes (both sides of the limit in one run).
bin="${SN_TOP_BUILDDIR:-.}/tests/bin/eager"
coll="${SN_TOP_BUILDDIR:-.}/tests/bin/coll"
log="${TMPDIR:-/tmp}/snccl-eager-$$.log"
trap 'rm -f "$log"' EXIT
count() { grep -c "eager (one shared block)" "$log"; }

NCCL_DEBUG=INFO NCCL_DEBUG_SUBSYS=COLL "$bin" "$@" >"$log" 2>&1
rc=$?; grep -E "^eager: (PASS|FAIL)|MISMATCH|DEADPEER|ABORT|LATE" "$log"
[ $rc -eq 0 ] || { grep -v "NCCL INFO" "$log" | tail -30; exit 1; }
n=$(count); echo "eager calls: $n"
[ "$n" -gt 1000 ] || { echo "FAIL: the shared-block path ran only $n times"; exit 1; }

for env in SNCCL_SHM_EAGER_MAX=0 NCCL_ALGO=ring; do
  env $env NCCL_DEBUG=INFO NCCL_DEBUG_SUBSYS=COLL "$bin" basic2 basic3 group2 >"$log" 2>&1
  rc=$?; grep -E "^eager: (PASS|FAIL)" "$log"
  [ $rc -eq 0 ] || { grep -v "NCCL INFO" "$log" | tail -30; exit 1; }
  n=$(count); echo "eager calls with $env: $n"
  [ "$n" -eq 0 ] || { echo "FAIL: $env still ran the shared-block path"; exit 1; }
done

SNCCL_SHM_EAGER_MAX=64 NCCL_DEBUG=INFO NCCL_DEBUG_SUBSYS=COLL "$coll" --nranks=2,5 >"$log" 2>&1
rc=$?; grep "^coll:" "$log"
[ $rc -eq 0 ] || { grep -v "NCCL INFO" "$log" | tail -30; exit 1; }
n=$(count); echo "eager calls in the collective matrix (limit 64 bytes): $n"
[ "$n" -gt 0 ] || { echo "FAIL: no call of the matrix ran the shared-block path"; exit 1; }
exit 0
