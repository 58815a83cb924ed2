#!/bin/sh
# Survivors of a killed rank shrink the communicator (NCCL_SHRINK_ABORT)
# and run correct all-reduces on it, over TCP and over shared memory
# (tests/fault/shrinktest.c); prints kill -> recovered times.
# SHRINK_TRIALS (default 3) trials each; docs/RELIABILITY.md used 20.
B="${SN_TOP_BUILDDIR:-.}/tests/fault/bin"
N="${SHRINK_TRIALS:-3}"
rc=0
for m in tcp shm; do
  "$B/shrinktest" $m "$N" 4 || rc=1
done
exit $rc
