#!/bin/sh
# Collective matrix (tests/coll.c): TCP sockets only (no shared memory),
# the library's own algorithm choice, and the ~1M-element cases.
export NCCL_SHM_DISABLE=1
exec "${SN_TOP_BUILDDIR:-.}/tests/bin/coll" --large "$@"
