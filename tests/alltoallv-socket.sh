#!/bin/sh
# All-to-all-v (tests/alltoallv.c) over TCP sockets only, 1..9 ranks: the
# library's own choice, then pairwise forced; then 2 emulated domains.
export NCCL_SHM_DISABLE=1
bin="${SN_TOP_BUILDDIR:-.}/tests/bin/alltoallv"
"$bin" "$@" || exit 1
SNCCL_ALGO=alltoallv:pairwise "$bin" "$@" || exit 1
# two emulated domains: shared memory inside each, sockets between them
unset NCCL_SHM_DISABLE
SN_LAUNCH_DOMAINS=2 "$bin" --nranks=2,4,6,8 || exit 1
