#!/bin/sh
# Collective matrix (tests/coll.c): TCP sockets only, direct algorithm forced.
export NCCL_SHM_DISABLE=1 NCCL_ALGO=direct
exec "${SN_TOP_BUILDDIR:-.}/tests/bin/coll" --large "$@"
