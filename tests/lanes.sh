#!/bin/sh
# Point-to-point calls and collectives on separate links (tests/lanes.c):
# over shared memory, then over sockets. The ring algorithm is forced so
# that the all-reduce takes the message path with pieces of a known size.
bin="${SN_TOP_BUILDDIR:-.}/tests/bin/lanes"
SNCCL_ALGO=allreduce:ring "$bin" || exit 1
NCCL_SHM_DISABLE=1 SNCCL_ALGO=allreduce:ring "$bin" || exit 1
