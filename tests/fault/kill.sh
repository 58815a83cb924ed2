#!/bin/sh
# A rank killed mid-all-reduce over TCP and over shared memory, one frozen
# (SIGSTOP, over the default transports) and one
# paused for less than the deadline (tests/fault/killtest.c). Prints the
# time-to-error figures; fails on a hang, a crash or a missing error.
# KILLTEST_TRIALS (default 5) trials each; docs/RELIABILITY.md used 50.
B="${SN_TOP_BUILDDIR:-.}/tests/fault/bin"
N="${KILLTEST_TRIALS:-5}"
rc=0
for m in tcp shm freeze pause; do
  "$B/killtest" $m "$N" 3 || rc=1
done
exit $rc
