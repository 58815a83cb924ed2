#!/bin/sh
# Leak check (tests/fault/leaktest.c): LEAK_CYCLES (default 20; 100 for the
# figures in docs/RELIABILITY.md) x (init/all-reduce/abort + init/destroy)
# with 4 thread ranks, over shared memory and over TCP. /dev/shm is private
# to the test (a tmpfs in a user+mount namespace) where that is allowed, so
# other jobs' segments cannot disturb the count.
B="${SN_TOP_BUILDDIR:-.}/tests/fault/bin"
N="${LEAK_CYCLES:-20}"
rc=0
for m in shm tcp; do
  if unshare -rm sh -c 'mount -t tmpfs sn-leak /dev/shm' 2>/dev/null; then
    unshare -rm sh -c "mount -t tmpfs sn-leak /dev/shm && exec '$B/leaktest' $m $N 4" || rc=1
  else
    echo "(no private /dev/shm here: other processes' snccl segments may disturb the count)"
    "$B/leaktest" $m "$N" 4 || rc=1
  fi
done
exit $rc
