#!/bin/sh
# Collective matrix (tests/coll.c): TCP sockets only, ring algorithm forced.
export NCCL_SHM_DISABLE=1 NCCL_ALGO=ring
exec "${SN_TOP_BUILDDIR:-.}/tests/bin/coll" --large "$@"
