#!/bin/sh
# All-to-all-v (tests/alltoallv.c) over TCP sockets only, 1..9 ranks: the
# library's own choice, then pairwise forced.
export NCCL_SHM_DISABLE=1
bin="${SN_TOP_BUILDDIR:-.}/tests/bin/alltoallv"
"$bin" "$@" || exit 1
SNCCL_ALGO=alltoallv:pairwise "$bin" "$@" || exit 1
