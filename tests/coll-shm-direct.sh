#!/bin/sh
# Collective matrix (tests/coll.c): shared memory, direct algorithm forced.
export NCCL_ALGO=direct
exec "${SN_TOP_BUILDDIR:-.}/tests/bin/coll" --large "$@"
