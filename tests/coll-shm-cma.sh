#!/bin/sh
# Collective matrix (tests/coll.c): shared memory with cross-memory attach on
# for every piece of 1 KiB or more (the single-copy path; off by default), and
# the always-sleep back-off, so that the futex doorbell carries every wake-up.
export SNCCL_SHM_CMA=1
export SNCCL_SHM_CMA_MIN=1024
export SNCCL_SPIN_COUNT=0
export SNCCL_YIELD_COUNT=0
exec "${SN_TOP_BUILDDIR:-.}/tests/bin/coll" --large "$@"
