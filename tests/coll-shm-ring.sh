#!/bin/sh
# Collective matrix (tests/coll.c): shared memory, ring algorithm forced.
export NCCL_ALGO=ring
exec "${SN_TOP_BUILDDIR:-.}/tests/bin/coll" --large "$@"
